"""Query embeddings from an ONNX encoder (the int8 multilingual-e5-small the rag graph uses)."""

from __future__ import annotations

from typing import Any

from haystack import component, default_to_dict

from components.embedders.onnx_encoder import OnnxSentenceEncoder, shared_encoder


@component
class OnnxTextEmbedder:
    """Embeds one text with `OnnxSentenceEncoder` (the same session as the document embedder's in a process)."""

    def __init__(
        self, model: str, onnx_file: str, *, prefix: str = "", normalize_embeddings: bool = True, threads: int = 0
    ) -> None:
        """
        :param model: The sentence-transformers folder (tokenizer, pooling).
        :param onnx_file: The encoder's ONNX file, relative to `model`.
        :param prefix: Written before the text (e5: "query: ").
        :param normalize_embeddings: A unit-length embedding.
        :param threads: onnxruntime's intra-op threads; 0: one per physical core.
        """
        self.model = model
        self.onnx_file = onnx_file
        self.prefix = prefix
        self.normalize_embeddings = normalize_embeddings
        self.threads = threads
        self._encoder: OnnxSentenceEncoder | None = None

    def warm_up(self) -> None:
        if self._encoder is None:
            self._encoder = shared_encoder(self.model, self.onnx_file, self.threads)

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, list[float]]:
        """
        :param text: The text to embed.
        :returns: `embedding`.
        """
        if not isinstance(text, str):
            msg = "OnnxTextEmbedder expects a string; use OnnxDocumentEmbedder for documents"
            raise TypeError(msg)
        encoder = self._encoder or shared_encoder(self.model, self.onnx_file, self.threads)
        return {"embedding": encoder.encode([self.prefix + text], 1, self.normalize_embeddings)[0].tolist()}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            model=self.model,
            onnx_file=self.onnx_file,
            prefix=self.prefix,
            normalize_embeddings=self.normalize_embeddings,
            threads=self.threads,
        )
