"""Fuse the dense and BM25 candidate lists into one ranking (`retrieval.fusion` in hayhooks.yml)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from haystack import Document, component

from components.inline_async import runs_inline

FusionMethod = Literal["rrf", "weighted"]


def _min_max(documents: list[Document]) -> dict[str, float]:
    """Each document's score scaled to [0, 1] within its list (1.0 for all when the scores are equal)."""
    scores = {doc.id: doc.score if doc.score is not None else 0.0 for doc in documents}
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return dict.fromkeys(scores, 1.0)
    return {doc_id: (score - low) / (high - low) for doc_id, score in scores.items()}


def _reciprocal_ranks(documents: list[Document], k: int) -> dict[str, float]:
    ranks: dict[str, float] = {}
    for rank, doc in enumerate(documents, start=1):
        ranks.setdefault(doc.id, 1.0 / (k + rank))
    return ranks


@component
@runs_inline
class HybridFusionJoiner:
    """
    Joins the dense and the BM25 retrievers' documents, each retriever with its own weight.

    - `rrf`: reciprocal rank fusion, `sum(weight / (rrf_k + rank))`;
    - `weighted`: each list's scores min-max normalised to [0, 1], then `sum(weight * normalised score)`; a document
      a retriever did not return counts 0 for it.

    Haystack's `DocumentJoiner` has RRF, but its `merge` mode sums raw scores (BM25 and cosine scores on different
    scales) and its distribution-based fusion takes no weights, hence this joiner.
    """

    def __init__(
        self,
        method: FusionMethod = "weighted",
        dense_weight: float = 0.5,
        bm25_weight: float = 0.5,
        rrf_k: int = 60,
        top_k: int | None = None,
    ) -> None:
        """
        :param method: `rrf` or `weighted`.
        :param dense_weight: Weight of the dense retriever's list.
        :param bm25_weight: Weight of the BM25 retriever's list.
        :param rrf_k: The constant of reciprocal rank fusion.
        :param top_k: How many fused documents to return; all of them if `None`.
        """
        if method not in ("rrf", "weighted"):
            raise ValueError(f"method must be 'rrf' or 'weighted', got {method!r}")
        if dense_weight < 0 or bm25_weight < 0 or dense_weight + bm25_weight == 0:
            raise ValueError("weights must be >= 0 and not both 0")
        self.method = method
        self.dense_weight = dense_weight
        self.bm25_weight = bm25_weight
        self.rrf_k = rrf_k
        self.top_k = top_k

    @component.output_types(documents=list[Document])
    def run(
        self, dense_documents: list[Document] | None = None, bm25_documents: list[Document] | None = None
    ) -> dict[str, Any]:
        """
        :param dense_documents: The dense retriever's documents, best first.
        :param bm25_documents: The BM25 retriever's documents, best first.
        :returns: `documents`, each document once, with its fused score, best first.
        """
        lists = [(dense_documents or [], self.dense_weight), (bm25_documents or [], self.bm25_weight)]
        fused: dict[str, float] = {}
        first_seen: dict[str, Document] = {}
        for documents, weight in lists:
            parts = _reciprocal_ranks(documents, self.rrf_k) if self.method == "rrf" else _min_max(documents)
            for doc in documents:
                first_seen.setdefault(doc.id, doc)
            for doc_id, part in parts.items():
                fused[doc_id] = fused.get(doc_id, 0.0) + weight * part
        ranked = sorted(first_seen.values(), key=lambda doc: fused[doc.id], reverse=True)
        if self.top_k is not None:
            ranked = ranked[: self.top_k]
        return {"documents": [replace(doc, score=fused[doc.id]) for doc in ranked]}
