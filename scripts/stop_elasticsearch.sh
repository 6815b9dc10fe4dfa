#!/usr/bin/env bash
# Stop the compatibility proxy and the local Elasticsearch started by start_elasticsearch.sh
# (only the processes named in var/run/*.pid). Idempotent; callable from any cwd.
set -euo pipefail
# shellcheck source=elasticsearch_common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/elasticsearch_common.sh"

# stop_pid PIDFILE NAME CMDLINE_PATTERN GRACE_SECONDS
stop_pid() {
  local f="$1" name="$2" pattern="$3" grace="$4" pid i
  if ! pid="$(es_pid_alive "$f")"; then
    es_log "$name not running"; rm -f "$f"; return 0
  fi
  # guard against a recycled pid
  if ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"; then
    es_log "$name: pid $pid is not ours any more (cmdline does not match '$pattern'); removing stale pid file"
    rm -f "$f"; return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for (( i = 0; i < grace * 5; i++ )); do
    kill -0 "$pid" 2>/dev/null || { es_log "$name stopped (pid $pid)"; rm -f "$f"; return 0; }
    sleep 0.2
  done
  es_log "$name did not stop within ${grace}s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$f"
}

stop_pid "$ES_PROXY_PID_FILE" "compatibility proxy" "es_compat_proxy" 10
stop_pid "$ES_PID_FILE" "Elasticsearch" "org.elasticsearch.bootstrap.Elasticsearch" 60
