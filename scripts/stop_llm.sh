#!/usr/bin/env bash
# Stop the vLLM server started by scripts/start_llm.sh, by the pid in var/run/vllm.pid
# (or in $LLM_PID_FILE, for a server started with that variable).
# SIGTERM to its process group, then SIGKILL after LLM_STOP_TIMEOUT seconds (default 30).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PIDFILE="${LLM_PID_FILE:-$ROOT/var/run/vllm.pid}"
TIMEOUT="${LLM_STOP_TIMEOUT:-30}"

log() { printf '[stop_llm] %s\n' "$*"; }

if [[ ! -f "$PIDFILE" ]]; then
  log "no $PIDFILE: not running (or not started by start_llm.sh)"
  exit 0
fi
PID="$(cat "$PIDFILE")"
if [[ -z "$PID" ]] || ! kill -0 "$PID" 2>/dev/null; then
  log "pid ${PID:-?} is not running; removing stale $PIDFILE"
  rm -f "$PIDFILE"
  exit 0
fi
if ! tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -q "vllm.entrypoints.openai.api_server"; then
  log "pid $PID is not a vLLM server (pid reused?); removing stale $PIDFILE, killing nothing"
  rm -f "$PIDFILE"
  exit 0
fi

# start_llm.sh runs the server under setsid: its pid is also its process-group id.
# Signal the group when it is the server's own group, else the pid alone.
target="$PID"
if [[ "$(ps -o pgid= -p "$PID" | tr -d ' ')" == "$PID" ]]; then target="-$PID"; fi

log "stopping vLLM (pid $PID)"
kill -TERM -- "$target" 2>/dev/null || true
for (( i = 0; i < TIMEOUT; i++ )); do
  kill -0 "$PID" 2>/dev/null || break
  sleep 1
done
if kill -0 "$PID" 2>/dev/null; then
  log "still alive after ${TIMEOUT}s: SIGKILL"
  kill -KILL -- "$target" 2>/dev/null || true
  sleep 1
fi
# Engine-core children left in the group after the parent exited.
if [[ "$target" == -* ]]; then kill -KILL -- "$target" 2>/dev/null || true; fi
rm -f "$PIDFILE"
log "stopped"
