"""Sentence embeddings from an ONNX encoder run by onnxruntime: tokens -> token states -> mean pooling."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np


class OnnxSentenceEncoder:
    """
    A sentence-transformers folder's tokenizer and mean pooling around an ONNX file of its encoder (inputs
    `input_ids`, `attention_mask`; output the last hidden state), as `scripts/offline_models/e5.py` writes it.

    Texts are encoded longest first, so that a batch pads to similar lengths (as sentence-transformers does).
    """

    def __init__(self, model: str, onnx_file: str, threads: int = 0) -> None:
        """
        :param model: The sentence-transformers folder (`tokenizer.json`, `1_Pooling/config.json`).
        :param onnx_file: The ONNX file, relative to `model`.
        :param threads: onnxruntime's intra-op threads; 0: one per physical core.
        """
        import onnxruntime as ort  # noqa: PLC0415  (loaded with the model)
        from tokenizers import Tokenizer  # noqa: PLC0415

        folder = Path(model)
        path = folder / onnx_file
        if not path.is_file():
            msg = f"{path} not found: scripts/install_models.py writes it (models.embedder.onnx_file)"
            raise FileNotFoundError(msg)
        pooling_file = folder / "1_Pooling" / "config.json"
        pooling = json.loads(pooling_file.read_text()) if pooling_file.is_file() else {}
        if not pooling.get("pooling_mode_mean_tokens", False):
            msg = f"{folder}: only mean pooling is supported (1_Pooling/config.json)"
            raise ValueError(msg)
        st_config = folder / "sentence_bert_config.json"
        max_length = json.loads(st_config.read_text()).get("max_seq_length", 512) if st_config.is_file() else 512
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle threads sleep rather than spin: on 2 cores shared with the LLM, spinning cost 10 % of int8 chunks/s
        # (bench/embedder.py-style rounds, loaded machine: 4.18 vs 4.80 chunks/s, 3 rounds of 3 slower).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str], batch_size: int = 32, normalize: bool = True) -> np.ndarray:
        """
        :param texts: The texts, prefixes included.
        :param batch_size: Texts per onnxruntime run.
        :param normalize: Scale each embedding to unit length.
        :returns: One float32 row per text, in the order of `texts`.
        """
        embeddings = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            length = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), length), dtype=np.int64)
            mask = np.zeros((len(batch), length), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            states = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[..., None].astype(np.float32)
            embeddings[batch] = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if normalize:
            embeddings /= np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
        return embeddings


_ENCODERS: dict[tuple[str, str, int], OnnxSentenceEncoder] = {}
_LOCK = threading.Lock()


def shared_encoder(model: str, onnx_file: str, threads: int = 0) -> OnnxSentenceEncoder:
    """One encoder per (model, file, threads) in a process: the query and document embedders share it."""
    key = (str(Path(model).resolve()), onnx_file, threads)
    with _LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = OnnxSentenceEncoder(model, onnx_file, threads)
        return _ENCODERS[key]
