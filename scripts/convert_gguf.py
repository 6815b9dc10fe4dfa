"""Convert a GGUF chat model into a Hugging Face folder that vLLM (CPU) can serve.

transformers reads the GGUF (needs the `gguf` pip package), dequantises the weights,
and we save them as bfloat16 safetensors together with the tokenizer (and its chat
template, which lives in the GGUF metadata). Then the saved folder is loaded back and
checked: same logits as the GGUF-loaded model, a sensible greedy answer, and a
SHA256SUMS file listing every file written.

Usage: python scripts/convert_gguf.py --gguf var/models/x.gguf --out var/models/x/
Run it with the interpreter of .venv-vllm (scripts/setup_llm.sh does).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[convert_gguf {time.monotonic() - T0:5.0f}s] {msg}", flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True, type=Path, help="the GGUF file")
    ap.add_argument("--out", required=True, type=Path, help="output folder (created)")
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    torch.manual_seed(0)
    gguf = args.gguf.resolve()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    log(f"loading tokenizer from {gguf.name}")
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if not tok.chat_template:
        log("ERROR: the GGUF carries no chat template")
        return 1

    log(f"loading and dequantising weights from {gguf.name} (bfloat16)")
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16)
    model.eval()
    # The GGUF route attaches a quantizer/quantization config; the weights are plain
    # tensors after dequantisation, and a leftover quantization_config makes vLLM refuse
    # or mis-load the folder.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        try:
            model.is_quantized = False
        except AttributeError:
            pass
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    model = model.to(torch.bfloat16)
    model.config.dtype = torch.bfloat16
    cfg = model.config
    log(
        f"model: {cfg.model_type}, {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M params, "
        f"layers={cfg.num_hidden_layers}, tie_word_embeddings={cfg.tie_word_embeddings}, "
        f"max_position_embeddings={cfg.max_position_embeddings}"
    )

    # End-of-turn: <|im_end|>; also stop on <|endoftext|>, as upstream does.
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    endoftext = tok.convert_tokens_to_ids("<|endoftext|>")
    eos_ids = [i for i in (im_end, endoftext) if isinstance(i, int) and i >= 0 and i != tok.unk_token_id]
    gen = GenerationConfig(
        bos_token_id=endoftext,
        pad_token_id=endoftext,
        eos_token_id=eos_ids,
        **UPSTREAM_GENERATION,
    )
    model.generation_config = gen
    cfg.eos_token_id = im_end
    if tok.pad_token is None:
        tok.pad_token = "<|endoftext|>"

    messages = [
        {"role": "system", "content": "Tu es un assistant utile. Réponds en français."},
        {"role": "user", "content": "Quelle est la capitale de la France ? Réponds en un mot."},
    ]
    prompt_ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    with torch.no_grad():
        ref_logits = model(prompt_ids).logits[0, -1].float()

    log(f"saving to {out}")
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    del model

    # ---- verify: the saved folder loads, has no quantization config, same output.
    cfg_json = json.loads((out / "config.json").read_text())
    if "quantization_config" in cfg_json:
        log("ERROR: config.json still has a quantization_config")
        return 1
    log("verifying: reloading the saved folder")
    tok2 = AutoTokenizer.from_pretrained(str(out))
    model2 = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.bfloat16)
    model2.eval()
    if tok2.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) != tok.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=False
    ):
        log("ERROR: the saved tokenizer renders the chat template differently")
        return 1
    with torch.no_grad():
        logits2 = model2(prompt_ids).logits[0, -1].float()
    diff = (logits2 - ref_logits).abs().max().item()
    log(f"max |logit difference| GGUF-loaded vs saved folder: {diff:.4g}")
    if diff > 1e-2:
        log("ERROR: the saved folder does not reproduce the GGUF model's logits")
        return 1
    with torch.no_grad():
        gen_ids = model2.generate(prompt_ids, max_new_tokens=12, do_sample=False)
    answer = tok2.decode(gen_ids[0, prompt_ids.shape[1]:], skip_special_tokens=True).strip()
    log(f"greedy answer to 'capitale de la France': {answer!r}")
    if "paris" not in answer.lower():
        log("ERROR: the converted model does not answer a trivial question; weights look broken")
        return 1

    sums = []
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name not in ("SHA256SUMS", ".setup-llm-done"):
            sums.append(f"{sha256_file(p)}  {p.relative_to(out)}")
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    for line in sums:
        log(f"  {line}")
    log("conversion OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
