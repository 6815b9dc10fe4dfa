"""The cross-encoder over the fused top-N, switchable and blended with the fused score by configuration."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from haystack import Document, component
from haystack_integrations.components.rankers.sentence_transformers.sentence_transformers_similarity import (
    SentenceTransformersSimilarityRanker,
)

from components.inline_async import runs_inline


def _min_max(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    if high == low:
        return [1.0] * len(values)
    return [(v - low) / (high - low) for v in values]


def _passes_through(ranker: CrossEncoderRanker, *, documents: list[Document], **_: Any) -> bool:
    """Switched off, or nothing to rank: no model call, so no reason to wait for a worker thread."""
    return not ranker.enabled or not documents


@component
@runs_inline(when=_passes_through)
class CrossEncoderRanker(SentenceTransformersSimilarityRanker):
    """
    `SentenceTransformersSimilarityRanker` (a cross-encoder, loaded once in `warm_up`) that

    - reranks only the first `top_n` documents it receives; the others follow in their order;
    - blends the cross-encoder's score with the incoming (fused) score, both min-max normalised over those
      `top_n`: `blend_weight * cross_encoder + (1 - blend_weight) * fused` (1.0: the cross-encoder alone);
    - when `enabled` is `False`, loads no model and passes the documents through, cut to `top_k`.
    """

    def __init__(self, *, enabled: bool = True, top_n: int = 20, blend_weight: float = 1.0, **kwargs: Any) -> None:
        """
        :param enabled: When `False`, no model is loaded and documents pass through, cut to `top_k`.
        :param top_n: How many of the first documents the cross-encoder scores.
        :param blend_weight: Share of the cross-encoder's normalised score in the final score, in [0, 1].
        :param kwargs: `SentenceTransformersSimilarityRanker`'s parameters (`model`, `top_k`, `batch_size`...).
        """
        if top_n < 1:
            raise ValueError(f"top_n must be >= 1, got {top_n}")
        if not 0 <= blend_weight <= 1:
            raise ValueError(f"blend_weight must be in [0, 1], got {blend_weight}")
        SentenceTransformersSimilarityRanker.__init__(self, **kwargs)
        self.enabled = enabled
        self.top_n = top_n
        self.blend_weight = blend_weight

    def warm_up(self) -> None:
        if self.enabled:
            SentenceTransformersSimilarityRanker.warm_up(self)

    def to_dict(self) -> dict[str, Any]:
        data = SentenceTransformersSimilarityRanker.to_dict(self)
        data["init_parameters"].update(enabled=self.enabled, top_n=self.top_n, blend_weight=self.blend_weight)
        return data

    @component.output_types(documents=list[Document])
    def run(  # type: ignore[override]
        self,
        *,
        query: str,
        documents: list[Document],
        top_k: int | None = None,
        scale_score: bool | None = None,
        score_threshold: float | None = None,
    ) -> dict[str, list[Document]]:
        """
        :param query: The question.
        :param documents: Fused documents, best first.
        :param top_k: How many documents to return; `top_k` of the init parameters if `None`.
        :param scale_score: Passed to the cross-encoder (sigmoid over its logits).
        :param score_threshold: Drop reranked documents whose cross-encoder score is below it.
        :returns: `documents`, best first.
        """
        top_k = self.top_k if top_k is None else top_k
        if not self.enabled or not documents:
            return {"documents": list(documents)[:top_k]}
        head, tail = list(documents[: self.top_n]), list(documents[self.top_n :])
        reranked = SentenceTransformersSimilarityRanker.run(
            self, query=query, documents=head, top_k=len(head), scale_score=scale_score, score_threshold=score_threshold
        )["documents"]
        if self.blend_weight < 1:
            fused = dict(zip([d.id for d in head], _min_max([d.score or 0.0 for d in head]), strict=True))
            cross = _min_max([d.score or 0.0 for d in reranked]) if reranked else []
            blended = [
                replace(d, score=self.blend_weight * c + (1 - self.blend_weight) * fused.get(d.id, 0.0))
                for d, c in zip(reranked, cross, strict=True)
            ]
            reranked = sorted(blended, key=lambda d: d.score, reverse=True)
        return {"documents": (reranked + tail)[:top_k]}
