"""Document embeddings from an ONNX encoder (the int8 multilingual-e5-small the indexing graph uses)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from haystack import Document, component, default_to_dict

from components.embedders.onnx_encoder import OnnxSentenceEncoder, shared_encoder


@component
class OnnxDocumentEmbedder:
    """
    Embeds documents with `OnnxSentenceEncoder`: the text embedded is `prefix`, the `meta_fields_to_embed` values
    and the content joined by `embedding_separator`, as `SentenceTransformersDocumentEmbedder` builds it.
    """

    def __init__(
        self,
        model: str,
        onnx_file: str,
        *,
        prefix: str = "",
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        threads: int = 0,
    ) -> None:
        """
        :param model: The sentence-transformers folder (tokenizer, pooling).
        :param onnx_file: The encoder's ONNX file, relative to `model`.
        :param prefix: Written before every text (e5: "passage: ").
        :param batch_size: Texts per onnxruntime run.
        :param normalize_embeddings: Unit-length embeddings.
        :param meta_fields_to_embed: Metadata embedded before the content.
        :param embedding_separator: Joins the metadata values and the content.
        :param threads: onnxruntime's intra-op threads; 0: one per physical core.
        """
        if batch_size < 1:
            msg = f"batch_size must be at least 1, not {batch_size}"
            raise ValueError(msg)
        self.model = model
        self.onnx_file = onnx_file
        self.prefix = prefix
        self.batch_size = batch_size
        self.normalize_embeddings = normalize_embeddings
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator
        self.threads = threads
        self._encoder: OnnxSentenceEncoder | None = None

    def warm_up(self) -> None:
        if self._encoder is None:
            self._encoder = shared_encoder(self.model, self.onnx_file, self.threads)

    def text_to_embed(self, document: Document) -> str:
        """The text embedded for `document`."""
        meta = [str(document.meta[k]) for k in self.meta_fields_to_embed if document.meta.get(k) is not None]
        return self.prefix + self.embedding_separator.join([*meta, document.content or ""])

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """
        :param documents: The documents to embed.
        :returns: `documents`: new documents with their `embedding`.
        """
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            msg = "OnnxDocumentEmbedder expects a list of Documents"
            raise TypeError(msg)
        if not documents:
            return {"documents": []}
        encoder = self._encoder or shared_encoder(self.model, self.onnx_file, self.threads)
        texts = [self.text_to_embed(d) for d in documents]
        embeddings = encoder.encode(texts, self.batch_size, self.normalize_embeddings)
        return {"documents": [replace(d, embedding=e.tolist()) for d, e in zip(documents, embeddings, strict=True)]}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            model=self.model,
            onnx_file=self.onnx_file,
            prefix=self.prefix,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize_embeddings,
            meta_fields_to_embed=self.meta_fields_to_embed,
            embedding_separator=self.embedding_separator,
            threads=self.threads,
        )
