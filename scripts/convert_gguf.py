"""Convert a GGUF chat model into a Hugging Face folder that vLLM (CPU) can serve.

transformers reads the GGUF (needs the `gguf` and `accelerate` pip packages), dequantises
the weights, and we save them as bfloat16 safetensors together with the tokenizer (and its
chat template, which lives in the GGUF metadata). Then the saved folder is checked: it
loads back, every tensor equals bfloat16(dequantize(GGUF tensor)) exactly, the next-token
logits match the GGUF-loaded model, a trivial French question gets the right answer, and a
SHA256SUMS file lists every file written.

Usage: python scripts/convert_gguf.py --gguf var/models/x.gguf --out var/models/x/
Run it with the interpreter of .venv-vllm, offline (scripts/setup_llm.sh does both:
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
from transformers.utils import logging as hf_logging

T0 = time.monotonic()

# Sampling defaults of the upstream Qwen2.5(-Coder)-Instruct generation_config.json.
# vLLM uses them as the default sampling parameters (--generation-config auto);
# a request that sets temperature/top_p/... overrides them.
UPSTREAM_GENERATION = {
    "do_sample": True,
    "temperature": 0.7,
    "top_p": 0.8,
    "top_k": 20,
    "repetition_penalty": 1.1,
}
IM_END = "<|im_end|>"
END_OF_TEXT = "<|endoftext|>"
CHECK_MESSAGES = [
    {"role": "system", "content": "Tu es un assistant utile. Réponds en français."},
    {"role": "user", "content": "Quelle est la capitale de la France ? Réponds en un mot."},
]


class ConversionError(Exception):
    """The converted folder is not a faithful copy of the GGUF model."""


def log(msg: str) -> None:
    print(f"[convert_gguf {time.monotonic() - T0:5.0f}s] {msg}", flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def gguf_to_hf_name(name: str) -> str:
    """GGUF tensor name -> Hugging Face Qwen2 parameter name."""
    top = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
    blk = {
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
    }
    parts = name.split(".")
    if parts[0] == "blk":
        return f"model.layers.{parts[1]}.{blk[parts[2]]}.{parts[3]}"
    return f"{top[parts[0]]}.{parts[1]}"


def check_weights(gguf: Path, safetensors_file: Path) -> int:
    """Every saved tensor must be exactly bfloat16(dequantize(the GGUF tensor))."""
    reader = GGUFReader(str(gguf))
    with safe_open(str(safetensors_file), "pt") as st:
        saved = set(st.keys())
        expected = {gguf_to_hf_name(t.name) for t in reader.tensors}
        if saved != expected:
            raise ConversionError(
                f"tensor names differ: only saved {sorted(saved - expected)[:5]}, "
                f"only in the GGUF {sorted(expected - saved)[:5]}"
            )
        for t in reader.tensors:
            hf = gguf_to_hf_name(t.name)
            got = st.get_tensor(hf)
            want = torch.from_numpy(np.array(dequantize(t.data, t.tensor_type), dtype=np.float32, copy=True))
            want = want.reshape(got.shape).to(torch.bfloat16)
            if got.dtype != torch.bfloat16 or not torch.equal(got, want):
                raise ConversionError(f"tensor {hf} ({t.name}, {t.tensor_type.name}) differs from the GGUF")
    return len(saved)


def load_gguf(gguf: Path):
    """Tokenizer and bfloat16 model from the GGUF, ready to be saved as a plain HF folder."""
    log(f"loading tokenizer from {gguf.name}")
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if not tok.chat_template:
        raise ConversionError("the GGUF carries no chat template")

    log(f"loading and dequantising weights from {gguf.name} (bfloat16)")
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16)
    model.eval()
    # The GGUF route attaches a quantizer and a quantization config; once saved, the weights
    # are plain tensors, and a leftover quantization_config makes vLLM refuse or mis-load them.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        with contextlib.suppress(AttributeError):
            model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    model = model.to(torch.bfloat16)
    cfg = model.config
    cfg.dtype = torch.bfloat16
    log(
        f"model: {cfg.model_type}, {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M params, "
        f"layers={cfg.num_hidden_layers}, tie_word_embeddings={cfg.tie_word_embeddings}, "
        f"max_position_embeddings={cfg.max_position_embeddings}"
    )

    # End of turn is <|im_end|>; also stop on <|endoftext|>, as upstream does.
    im_end = tok.convert_tokens_to_ids(IM_END)
    end_of_text = tok.convert_tokens_to_ids(END_OF_TEXT)
    eos_ids = [i for i in (im_end, end_of_text) if isinstance(i, int) and i >= 0 and i != tok.unk_token_id]
    model.generation_config = GenerationConfig(
        bos_token_id=end_of_text, pad_token_id=end_of_text, eos_token_id=eos_ids, **UPSTREAM_GENERATION
    )
    cfg.eos_token_id = im_end
    if tok.pad_token is None:
        tok.pad_token = END_OF_TEXT
    return tok, model


def verify_folder(out: Path, gguf: Path, tok, prompt_ids: torch.Tensor, ref_logits: torch.Tensor) -> None:
    """Raise ConversionError unless `out` is a faithful, loadable copy of the GGUF model."""
    if "quantization_config" in json.loads((out / "config.json").read_text()):
        raise ConversionError("config.json still has a quantization_config")
    log("verifying: reloading the saved folder")
    tok2 = AutoTokenizer.from_pretrained(str(out))
    model2 = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.bfloat16)
    model2.eval()
    rendered = tok.apply_chat_template(CHECK_MESSAGES, add_generation_prompt=True, tokenize=False)
    if tok2.apply_chat_template(CHECK_MESSAGES, add_generation_prompt=True, tokenize=False) != rendered:
        raise ConversionError("the saved tokenizer renders the chat template differently")

    with torch.no_grad():
        logits2 = model2(prompt_ids).logits[0, -1].float()
    diff = (logits2 - ref_logits).abs().max().item()
    same_top = int(logits2.argmax()) == int(ref_logits.argmax())
    # The GGUF-loaded model computes with its packed weights in float32, the saved one in
    # bfloat16: small differences are expected, a different top token is not.
    log(f"next-token logits, GGUF-loaded vs saved folder: max |diff| {diff:.3g}, same top token: {same_top}")
    if not same_top or diff > 1.0:
        raise ConversionError("the saved folder does not reproduce the GGUF model's output")

    n = check_weights(gguf, out / "model.safetensors")
    log(f"all {n} saved tensors equal bfloat16(dequantize(GGUF tensor)) exactly")

    with torch.no_grad():
        gen_ids = model2.generate(prompt_ids, max_new_tokens=12, do_sample=False)
    answer = tok2.decode(gen_ids[0, prompt_ids.shape[1] :], skip_special_tokens=True).strip()
    log(f"greedy answer to 'capitale de la France': {answer!r}")
    if "paris" not in answer.lower():
        raise ConversionError("the converted model does not answer a trivial question: weights look broken")


def write_sha256sums(out: Path) -> None:
    sums = [
        f"{sha256_file(p)}  {p.relative_to(out)}"
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name not in ("SHA256SUMS", ".setup-llm-done")
    ]
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    for line in sums:
        log(f"  {line}")


def convert(gguf: Path, out: Path) -> None:
    hf_logging.disable_progress_bar()
    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    tok, model = load_gguf(gguf)

    prompt_ids = tok.apply_chat_template(
        CHECK_MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    with torch.no_grad():
        ref_logits = model(prompt_ids).logits[0, -1].float()

    log(f"saving to {out}")
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    del model

    verify_folder(out, gguf, tok, prompt_ids, ref_logits)
    write_sha256sums(out)
    log("conversion OK")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True, type=Path, help="the GGUF file")
    ap.add_argument("--out", required=True, type=Path, help="output folder (created)")
    args = ap.parse_args()
    try:
        convert(args.gguf.resolve(), args.out)
    except ConversionError as e:
        log(f"ERROR: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
