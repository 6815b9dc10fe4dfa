#!/usr/bin/env bash
# Start the local vLLM (CPU) OpenAI-compatible server in the background and wait until it
# answers. Needs scripts/setup_llm.sh to have run. Binds to 127.0.0.1 only.
# `make llm`, `rag serve` and the tests call it with the values of hayhooks.yml (models.llm.local);
# the defaults below are for running it by hand.
#
# Env (all optional):
#   LLM_PORT=8000                              port on 127.0.0.1
#   LLM_MODEL_NAME=qwen2.5-coder-0.5b-instruct name clients use as "model"
#   LLM_MAX_MODEL_LEN=4096                     context length (prompt + completion), tokens
#   LLM_START_TIMEOUT=600                      seconds to wait for readiness
#   LLM_MODEL_DIR=var/models/qwen2.5-coder-0.5b-instruct   Hugging Face model folder
#   LLM_KVCACHE_GB=2                           VLLM_CPU_KVCACHE_SPACE (GiB of KV cache)
#   LLM_DTYPE=auto                             weights' dtype: auto = bfloat16 where the CPU computes it
#                                              (avx512_bf16 or amx_bf16), else float32: without them vLLM emulates
#                                              bf16 and prefill crawls (measured here, AMD EPYC with AVX2 only)
#   LLM_RESERVED_CPUS=0                        cores vLLM leaves to the service (VLLM_CPU_NUM_OF_RESERVED_CPU);
#                                              vLLM already yields the CPU to the service (LLM_NICE, LLM_SCHED)
#   LLM_EXTRA_ARGS="..."                       more api_server flags (word-split)
#   LLM_NICE=10                                CPU priority of vLLM (0: same as the service). On one machine the
#                                              service's short work (cached answers, retrieval) then runs first
#   LLM_SCHED=idle                             idle: vLLM gets the CPU only when nothing else wants it (SCHED_IDLE,
#                                              chrt --idle, and its session's autogroup at nice 19); its busy-polling
#                                              engine loop took ~1.5 of 2 cores at nice 10 under load. normal: the
#                                              nice value alone (for the autogroup too)
#   LLM_PID_FILE=var/run/vllm.pid              set both of these to run a second server
#   LLM_LOG_FILE=var/log/vllm.log              (on another port) beside the default one
#
# Stop: scripts/stop_llm.sh (same LLM_PID_FILE).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-vllm"
PORT="${LLM_PORT:-8000}"
NAME="${LLM_MODEL_NAME:-qwen2.5-coder-0.5b-instruct}"
MAX_LEN="${LLM_MAX_MODEL_LEN:-4096}"
TIMEOUT="${LLM_START_TIMEOUT:-600}"
MODEL_DIR="${LLM_MODEL_DIR:-$ROOT/var/models/qwen2.5-coder-0.5b-instruct}"
KV_GB="${LLM_KVCACHE_GB:-2}"
DTYPE="${LLM_DTYPE:-auto}"
if [[ "$DTYPE" == auto ]]; then
  if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then DTYPE=bfloat16; else DTYPE=float32; fi
fi
RESERVED="${LLM_RESERVED_CPUS:-0}"
LOG="${LLM_LOG_FILE:-$ROOT/var/log/vllm.log}"
PIDFILE="${LLM_PID_FILE:-$ROOT/var/run/vllm.pid}"
URL="http://127.0.0.1:$PORT/v1/models"

T0=$(date +%s)
log() { printf '[start_llm %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
die() { printf '[start_llm] ERROR: %s\n' "$*" >&2; exit 1; }

# Body of GET /v1/models, or nothing if no server answers.
models_json() {
  if command -v curl >/dev/null 2>&1; then
    curl -sf --max-time 5 "$URL" 2>/dev/null || true
  else
    "$VENV/bin/python" -c 'import sys, urllib.request
try: print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
except Exception: pass' "$URL"
  fi
}
serves_our_model() { grep -q "\"id\" *: *\"$NAME\"" <<<"$1"; }

pid_alive() {
  local pid
  [[ -f "$PIDFILE" ]] && pid="$(cat "$PIDFILE")" && [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "vllm.entrypoints.openai.api_server"
}

show_log_tail() {
  echo "---- last 30 lines of $LOG ----" >&2
  tail -n 30 "$LOG" >&2 || true
  echo "-------------------------------" >&2
}

body="$(models_json)"
if [[ -n "$body" ]]; then
  if serves_our_model "$body"; then
    log "a server already answers on 127.0.0.1:$PORT with model '$NAME': nothing to do"
    exit 0
  fi
  die "something else answers on 127.0.0.1:$PORT (not model '$NAME'): $body"
fi

if pid_alive; then
  PID="$(cat "$PIDFILE")"
  log "vLLM (pid $PID) is already starting; waiting for it"
else
  [[ -x "$VENV/bin/python" ]] || die "$VENV missing: run scripts/setup_llm.sh first"
  [[ -f "$MODEL_DIR/config.json" ]] || die "no model in $MODEL_DIR: run scripts/setup_llm.sh first"
  mkdir -p "$(dirname "$LOG")" "$(dirname "$PIDFILE")"
  [[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.prev"
  # shellcheck disable=SC2206
  EXTRA=(${LLM_EXTRA_ARGS:-})
  CMD=("$VENV/bin/python" -m vllm.entrypoints.openai.api_server
    --model "$MODEL_DIR"
    --served-model-name "$NAME"
    --host 127.0.0.1 --port "$PORT"
    --max-model-len "$MAX_LEN"
    --dtype "$DTYPE"
    "${EXTRA[@]}")
  GROUP_NICE="${LLM_NICE:-10}"
  case "${LLM_SCHED:-idle}" in
    idle)
      GROUP_NICE=19
      if command -v chrt >/dev/null; then SCHED=(chrt --idle 0)
      else SCHED=(); log "chrt (util-linux) not found: vLLM runs at nice ${LLM_NICE:-10} only"; fi ;;
    normal) SCHED=() ;;
    *) log "LLM_SCHED must be idle or normal, got '${LLM_SCHED}'"; exit 2 ;;
  esac
  log "starting: ${CMD[*]}"
  log "log: $LOG"
  # setsid: own process group, so stop_llm.sh can also end the engine-core child.
  # A new session is also a new CPU autogroup (Linux, kernel.sched_autogroup_enabled=1): autogroups share the CPU
  # equally whatever the nice values and policies inside them, so vLLM's nice and SCHED_IDLE would rank it only
  # against its own threads, and it took as much CPU as the service's whole group (measured: the service's event
  # loop waited for a core as long as it ran). The session's autogroup gets the same low priority, before vLLM starts.
  # Offline: never try the Hugging Face hub; no usage statistics.
  env VLLM_CPU_KVCACHE_SPACE="$KV_GB" VLLM_CPU_NUM_OF_RESERVED_CPU="$RESERVED" \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 \
    "${SCHED[@]}" nice -n "${LLM_NICE:-10}" setsid sh -c \
    '[ -w /proc/self/autogroup ] && echo "$0" >/proc/self/autogroup 2>/dev/null; exec "$@"' "$GROUP_NICE" \
    "${CMD[@]}" >"$LOG" 2>&1 </dev/null &
  PID=$!
  echo "$PID" >"$PIDFILE"
  log "pid $PID written to $PIDFILE"
fi

last_report=$(date +%s)
while :; do
  body="$(models_json)"
  if [[ -n "$body" ]] && serves_our_model "$body"; then
    log "ready: http://127.0.0.1:$PORT/v1 serves '$NAME' (max context $MAX_LEN tokens)"
    exit 0
  fi
  if ! kill -0 "$PID" 2>/dev/null; then
    show_log_tail
    rm -f "$PIDFILE"
    die "vLLM exited during start-up (see $LOG)"
  fi
  now=$(date +%s)
  if (( now - T0 >= TIMEOUT )); then
    show_log_tail
    log "not ready after ${TIMEOUT}s: stopping it"
    "$ROOT/scripts/stop_llm.sh" || true
    die "vLLM was not ready within LLM_START_TIMEOUT=${TIMEOUT}s (see $LOG)"
  fi
  if (( now - last_report >= 10 )); then
    last_report=$now
    log "waiting for vLLM to answer on $URL ... ($(tail -n 1 "$LOG" 2>/dev/null | cut -c1-120))"
  fi
  sleep 2
done
