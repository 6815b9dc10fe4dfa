#!/usr/bin/env bash
# The test command: set up what is missing (a no-op when done), start the real local vLLM and Elasticsearch the
# integration tests talk to, run the whole suite, stop what this script started. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
bash scripts/setup_open_webui.sh  # the browser test's Open WebUI (once per machine) and chromium

started_llm=""
started_es=""
es_start_pid=""
cleanup() {
  [ -n "$es_start_pid" ] && wait "$es_start_pid" 2>/dev/null || true
  [ -n "$started_llm" ] && bash scripts/stop_llm.sh || true
  [ -n "$started_es" ] && bash scripts/stop_elasticsearch.sh || true
}
trap cleanup EXIT

# Elasticsearch starts in the background while the LLM starts (its proxy answers on 127.0.0.1:9200).
if ! python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9200/_cluster/health', timeout=2)" \
    2>/dev/null; then
  mkdir -p var/log
  bash scripts/start_elasticsearch.sh > var/log/start_elasticsearch.log 2>&1 &
  es_start_pid=$!
  started_es=1
fi

if ! .venv/bin/python -c "
from service.settings import load_settings; from service.local_llm import llm_answers
b = load_settings().llm_backend(); raise SystemExit(0 if llm_answers(b.base_url, b.model) else 1)"; then
  .venv/bin/python -c "from service.settings import load_settings; from service.local_llm import ensure_local_llm
ensure_local_llm(load_settings())"
  started_llm=1
fi
if [ -n "$es_start_pid" ]; then
  if ! wait "$es_start_pid"; then
    es_start_pid=""
    cat var/log/start_elasticsearch.log >&2
    echo "Elasticsearch did not start (var/log/start_elasticsearch.log)" >&2
    exit 1
  fi
  es_start_pid=""
fi

# The Elasticsearch this script started is ours: the fault test stops and restarts the real server, not only
# a proxy in front of it (tests/integration/test_gateway.py).
if [ -n "$started_es" ]; then
  export RAG_TEST_RESTART_ES="${RAG_TEST_RESTART_ES:-1}"
fi

.venv/bin/python -m pytest -ra "$@"
