#!/usr/bin/env bash
# Install what the browser test drives: a pinned Open WebUI in a venv of its own, once per machine (it is 2.9 GB
# and takes ~4 min; every clone shares it) and the Debian `chromium` (Playwright, in the project's .venv from
# pyproject's `test` extra, launches /usr/bin/chromium: no browser download).
#
# Idempotent: a re-run with everything in place is a no-op.
# Env:   RAG_TOOLS_DIR    where machine-wide tools live (default ~/.cache/btp-rag)
#        PYTHON=python3.11
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OPEN_WEBUI_VERSION="0.12.4"
TORCH_VERSION="2.13.0"
TOOLS="${RAG_TOOLS_DIR:-$HOME/.cache/btp-rag}"
VENV="$TOOLS/open-webui-$OPEN_WEBUI_VERSION"
PYTHON="${PYTHON:-python3.11}"

log() { echo "[setup_open_webui] $*"; }

if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium (apt)"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ ! -f "$VENV/.installed" ]; then
  log "installing open-webui==$OPEN_WEBUI_VERSION in $VENV (once per machine, ~4 min)"
  mkdir -p "$TOOLS"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # The CPU build of torch first: any other route pulls a multi-GB CUDA build.
  "$VENV/bin/pip" install -q "torch==$TORCH_VERSION"
  "$VENV/bin/pip" install -q "open-webui==$OPEN_WEBUI_VERSION"
  "$VENV/bin/open-webui" --help >/dev/null
  touch "$VENV/.installed"
fi
log "ready: $VENV/bin/open-webui, $(command -v chromium)"
