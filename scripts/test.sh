#!/usr/bin/env bash
# The test command: set up what is missing (a no-op when done), start the real local vLLM the integration tests
# talk to, run the whole suite, stop what this script started. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh

started_llm=""
if ! .venv/bin/python -c "
from service.settings import load_settings; from service.local_llm import llm_answers
b = load_settings().llm_backend(); raise SystemExit(0 if llm_answers(b.base_url, b.model) else 1)"; then
  .venv/bin/python -c "from service.settings import load_settings; from service.local_llm import ensure_local_llm
ensure_local_llm(load_settings())"
  started_llm=1
fi
cleanup() { [ -n "$started_llm" ] && bash scripts/stop_llm.sh || true; }
trap cleanup EXIT

.venv/bin/python -m pytest -ra "$@"
