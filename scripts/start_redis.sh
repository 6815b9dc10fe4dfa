#!/usr/bin/env bash
# Start a throw-away Redis for integration tests and local use: 127.0.0.1:$REDIS_PORT (default 6379),
# no persistence (--save "" --appendonly no), daemonized, pid file var/run/redis.pid, log var/log/redis.log.
# Runs setup_redis.sh first when redis-server is missing. Idempotent; callable from any cwd.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDIS_PORT="${REDIS_PORT:-6379}"
RUN_DIR="$REPO_ROOT/var/run"
LOG_DIR="$REPO_ROOT/var/log"
DATA_DIR="$REPO_ROOT/var/redis"
PID_FILE="$RUN_DIR/redis.pid"
LOG_FILE="$LOG_DIR/redis.log"
TIMEOUT="${REDIS_START_TIMEOUT:-20}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ping PORT -> 0 when a Redis answers PONG on 127.0.0.1:PORT (redis-cli when present, else python3)
ping() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]
  else
    python3 - "$1" <<'PY'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
  fi
}
port_busy() {
  python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}
pid_alive() {
  local pid
  [ -s "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

t0=$(date +%s)
command -v redis-server >/dev/null 2>&1 || "$REPO_ROOT/scripts/setup_redis.sh"
mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"

if pid="$(pid_alive)"; then
  if ping "$REDIS_PORT"; then
    log "Redis already running (pid $pid, 127.0.0.1:$REDIS_PORT)"
    exit 0
  fi
  die "pid $pid from $PID_FILE is alive but nothing answers PING on $REDIS_PORT (another REDIS_PORT?)"
fi
rm -f "$PID_FILE"
port_busy "$REDIS_PORT" && die "port 127.0.0.1:$REDIS_PORT is already in use by another process (set REDIS_PORT)"

log "starting $(redis-server --version | awk '{print $1, $2, $3}') on 127.0.0.1:$REDIS_PORT, log -> $LOG_FILE"
redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
  --pidfile "$PID_FILE" --logfile "$LOG_FILE" --dir "$DATA_DIR" < /dev/null

deadline=$(( $(date +%s) + TIMEOUT ))
until ping "$REDIS_PORT"; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    tail -n 20 "$LOG_FILE" >&2 || true
    die "Redis did not answer PING within ${TIMEOUT}s"
  fi
  sleep 0.1
done
pid="$(cat "$PID_FILE" 2>/dev/null || echo '?')"
rss="$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
log "Redis up (pid $pid, RSS $rss MB) after $(( $(date +%s) - t0 ))s: redis://127.0.0.1:$REDIS_PORT/0"
