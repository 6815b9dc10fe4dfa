#!/usr/bin/env bash
# Start the local Elasticsearch 7.9.2 OSS (127.0.0.1:$ES_PORT, default 9201) as the unprivileged
# user, wait for cluster health yellow/green, then start the 8.x-client compatibility proxy
# tests/servers/es_compat_proxy.py on 127.0.0.1:$ES_PROXY_PORT (default 9200).
# Haystack / elasticsearch-py 8.x must use the proxy URL, http://127.0.0.1:9200.
# Runs setup_elasticsearch.sh first when the install is missing. Idempotent; callable from any cwd.
# ES_NO_PROXY=1 skips the proxy. Settings: see elasticsearch_common.sh.
set -euo pipefail
# shellcheck source=elasticsearch_common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/elasticsearch_common.sh"

t0=$(date +%s)
if [ ! -x "$ES_JAVA_HOME/bin/java" ] || [ ! -f "$ES_HOME/bin/elasticsearch" ] \
   || [ ! -f "$ES_HOME/config/elasticsearch.yml" ]; then
  es_log "Elasticsearch not set up yet: running setup_elasticsearch.sh"
  "$ES_REPO_ROOT/scripts/setup_elasticsearch.sh"
fi
mkdir -p "$ES_RUN_DIR" "$ES_LOG_DIR"
[ "$(id -u)" -eq 0 ] || ES_USER="$(id -un)"

es_health() { es_http_get "http://127.0.0.1:$ES_PORT/_cluster/health" 2>/dev/null \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null; }

es_show_logs() {
  es_log "---- tail of $ES_OUT_FILE ----"
  tail -n 40 "$ES_OUT_FILE" >&2 2>/dev/null || true
  if [ -f "$ES_HOME/logs/rag-test.log" ]; then
    es_log "---- tail of $ES_HOME/logs/rag-test.log ----"
    tail -n 20 "$ES_HOME/logs/rag-test.log" >&2 || true
  fi
}

rss_mb() { awk '/VmRSS/ {printf "%d", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }

# --- 1. the real server -------------------------------------------------------------------------
if pid="$(es_pid_alive "$ES_PID_FILE")"; then
  es_log "Elasticsearch already running (pid $pid, port $ES_PORT)"
else
  rm -f "$ES_PID_FILE"
  if es_port_busy "$ES_PORT"; then
    es_die "port 127.0.0.1:$ES_PORT is already in use by another process (set ES_PORT)"
  fi
  es_log "starting Elasticsearch $ES_VERSION as $ES_USER on 127.0.0.1:$ES_PORT (heap $ES_HEAP), output -> $ES_OUT_FILE"
  launch=()
  if [ "$(id -u)" -eq 0 ]; then
    launch=(setpriv --reuid="$ES_USER" --regid="$(id -g "$ES_USER")" --init-groups)
  fi
  # bin/elasticsearch must be started from ES_HOME (it calls bin/elasticsearch-keystore relatively).
  # Output goes to a file, stdin from /dev/null: a pipe would keep the caller's shell hanging.
  # setsid/setpriv/env/bin/elasticsearch all exec, so $! is the java pid.
  (
    cd "$ES_HOME"
    exec setsid "${launch[@]}" env -i \
      PATH=/usr/local/bin:/usr/bin:/bin HOME="$ES_HOME" LANG=C.UTF-8 \
      JAVA_HOME="$ES_JAVA_HOME" ES_PATH_CONF="$ES_HOME/config" ES_TMPDIR="$ES_HOME/tmp" \
      ES_HTTP_PORT="$ES_PORT" ES_TRANSPORT_PORT="$ES_TRANSPORT_PORT" \
      ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP" \
      "$ES_HOME/bin/elasticsearch"
  ) > "$ES_OUT_FILE" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$ES_PID_FILE"

  deadline=$(( $(date +%s) + ES_START_TIMEOUT ))
  status=""
  last_report=$t0
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      es_show_logs; rm -f "$ES_PID_FILE"
      es_die "Elasticsearch exited during start-up"
    fi
    status="$(es_health || true)"
    if [ "$status" = "yellow" ] || [ "$status" = "green" ]; then break; fi
    now=$(date +%s)
    if [ "$now" -ge "$deadline" ]; then
      es_show_logs
      kill "$pid" 2>/dev/null || true; rm -f "$ES_PID_FILE"
      es_die "Elasticsearch not healthy after ${ES_START_TIMEOUT}s (stopped it)"
    fi
    if [ $(( now - last_report )) -ge 5 ]; then
      last_report=$now
      es_log "  waiting for Elasticsearch... $(( now - t0 ))s (health: ${status:-no answer}, RSS $(rss_mb "$pid") MB)"
    fi
    sleep 1
  done
  # single node: give every new index 0 replicas so it goes green (lowest order: explicit settings win)
  curl_put() {
    python3 - "$1" "$2" <<'PY'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="PUT",
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
PY
  }
  curl_put "http://127.0.0.1:$ES_PORT/_template/zz_local_single_node" \
    '{"index_patterns":["*"],"order":-1000,"settings":{"number_of_replicas":0}}' \
    || es_log "warning: could not install the 0-replica default template"
  es_log "Elasticsearch up (pid $pid, health $status) after $(( $(date +%s) - t0 ))s, RSS $(rss_mb "$pid") MB"
fi

# --- 2. the compatibility proxy ------------------------------------------------------------------
if [ "${ES_NO_PROXY:-0}" = "1" ]; then
  es_log "ES_NO_PROXY=1: not starting the compatibility proxy"
  exit 0
fi
if ppid="$(es_pid_alive "$ES_PROXY_PID_FILE")"; then
  es_log "compatibility proxy already running (pid $ppid, port $ES_PROXY_PORT)"
  exit 0
fi
rm -f "$ES_PROXY_PID_FILE"
py="$(es_proxy_python)" || es_die "no Python with aiohttp for the proxy (set ES_PROXY_PYTHON)"
"$py" -c 'import aiohttp' 2>/dev/null \
  || es_die "$py cannot import aiohttp (needed by the proxy): install it or set ES_PROXY_PYTHON"
if es_port_busy "$ES_PROXY_PORT"; then
  es_die "port 127.0.0.1:$ES_PROXY_PORT is already in use by another process (set ES_PROXY_PORT)"
fi
es_log "starting compatibility proxy 127.0.0.1:$ES_PROXY_PORT -> 127.0.0.1:$ES_PORT ($py), log -> $ES_PROXY_LOG_FILE"
setsid "$py" "$ES_PROXY_SCRIPT" --host 127.0.0.1 --port "$ES_PROXY_PORT" \
  --upstream "http://127.0.0.1:$ES_PORT" > "$ES_PROXY_LOG_FILE" 2>&1 < /dev/null &
ppid=$!
echo "$ppid" > "$ES_PROXY_PID_FILE"
for _ in $(seq 1 100); do
  if ! kill -0 "$ppid" 2>/dev/null; then
    tail -n 30 "$ES_PROXY_LOG_FILE" >&2 || true; rm -f "$ES_PROXY_PID_FILE"
    es_die "compatibility proxy exited during start-up"
  fi
  if es_http_get "http://127.0.0.1:$ES_PROXY_PORT/_cluster/health" >/dev/null 2>&1; then
    es_log "proxy up (pid $ppid, RSS $(rss_mb "$ppid") MB); total start $(( $(date +%s) - t0 ))s"
    es_log "Haystack: ElasticsearchDocumentStore(hosts=\"http://127.0.0.1:$ES_PROXY_PORT\", ...)"
    exit 0
  fi
  sleep 0.2
done
tail -n 30 "$ES_PROXY_LOG_FILE" >&2 || true
es_die "compatibility proxy did not answer within 20s"
