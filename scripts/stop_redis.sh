#!/usr/bin/env bash
# Stop the Redis started by start_redis.sh (only the pid in var/run/redis.pid). Idempotent; any cwd.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PID_FILE="$REPO_ROOT/var/run/redis.pid"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

pid="$(cat "$PID_FILE" 2>/dev/null || true)"
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
  log "Redis not running"; rm -f "$PID_FILE"; exit 0
fi
if ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q redis-server; then
  log "pid $pid is not a redis-server any more: removing stale pid file"; rm -f "$PID_FILE"; exit 0
fi
kill -TERM "$pid"   # no persistence configured: SIGTERM shuts down without writing anything
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || { log "Redis stopped (pid $pid)"; rm -f "$PID_FILE"; exit 0; }
  sleep 0.1
done
log "Redis did not stop within 10s: SIGKILL"
kill -KILL "$pid" 2>/dev/null || true
rm -f "$PID_FILE"
