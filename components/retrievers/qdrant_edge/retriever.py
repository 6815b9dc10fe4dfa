"""Dense retrieval from the embedded `QdrantEdgeDocumentStore`."""

from __future__ import annotations

from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.document_stores.types import FilterPolicy, apply_filter_policy
from qdrant_client.http import models

from components.document_stores.qdrant_edge import QdrantEdgeDocumentStore


@component
class QdrantEdgeEmbeddingRetriever:
    """
    Retrieves the documents of a `QdrantEdgeDocumentStore` nearest a query embedding.

    The embedded stand-in for qdrant-haystack's `QdrantEmbeddingRetriever`: the same init parameters, inputs and
    output (grouping, `group_by`, aside), the same filters and scores.
    """

    def __init__(  # noqa: PLR0917 (QdrantEmbeddingRetriever's parameters, in its order)
        self,
        document_store: QdrantEdgeDocumentStore,
        filters: dict[str, Any] | models.Filter | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool = False,
        filter_policy: str | FilterPolicy = FilterPolicy.REPLACE,
        score_threshold: float | None = None,
    ) -> None:
        """
        :param document_store: The store to search.
        :param filters: Haystack metadata filters (or a native `qdrant_client` filter) applied to every query.
        :param top_k: How many documents at most.
        :param scale_score: Scores mapped to (0, 1), as `QdrantEmbeddingRetriever` does.
        :param return_embedding: Whether the documents carry their embedding.
        :param filter_policy: REPLACE (run-time filters replace the init filters) or MERGE (both apply; Haystack
            filters only).
        :param score_threshold: The lowest score kept.
        """
        if not isinstance(document_store, QdrantEdgeDocumentStore):
            msg = "document_store must be an instance of QdrantEdgeDocumentStore"
            raise ValueError(msg)
        self.document_store = document_store
        self.filters = filters
        self.top_k = top_k
        self.scale_score = scale_score
        self.return_embedding = return_embedding
        self.filter_policy = FilterPolicy.from_str(filter_policy) if isinstance(filter_policy, str) else filter_policy
        self.score_threshold = score_threshold

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            document_store=self.document_store.to_dict(),
            filters=self.filters,
            top_k=self.top_k,
            scale_score=self.scale_score,
            return_embedding=self.return_embedding,
            filter_policy=self.filter_policy.value,
            score_threshold=self.score_threshold,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QdrantEdgeEmbeddingRetriever:
        params = dict(data.get("init_parameters", {}))
        params["document_store"] = QdrantEdgeDocumentStore.from_dict(params["document_store"])
        return default_from_dict(cls, {**data, "init_parameters": params})

    def _arguments(
        self,
        filters: dict[str, Any] | models.Filter | None,
        top_k: int | None,
        scale_score: bool | None,
        return_embedding: bool | None,
        score_threshold: float | None,
    ) -> dict[str, Any]:
        if self.filter_policy == FilterPolicy.MERGE and (
            isinstance(self.filters, models.Filter) or isinstance(filters, models.Filter)
        ):
            msg = "Native Qdrant filters cannot be used with filter_policy set to MERGE"
            raise ValueError(msg)
        return {
            "filters": apply_filter_policy(self.filter_policy, self.filters, filters),  # type: ignore[arg-type]
            "top_k": top_k or self.top_k,
            "scale_score": self.scale_score if scale_score is None else scale_score,
            "return_embedding": self.return_embedding if return_embedding is None else return_embedding,
            "score_threshold": self.score_threshold if score_threshold is None else score_threshold,
        }

    @component.output_types(documents=list[Document])
    def run(  # noqa: PLR0917 (QdrantEmbeddingRetriever's inputs, in its order)
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | models.Filter | None = None,
        top_k: int | None = None,
        scale_score: bool | None = None,
        return_embedding: bool | None = None,
        score_threshold: float | None = None,
    ) -> dict[str, list[Document]]:
        """
        :param query_embedding: The query's embedding.
        :param filters: Filters combined with the init filters by `filter_policy`.
        :param top_k: How many documents at most; the init value when `None` (or 0, as in qdrant-haystack).
        :param scale_score: Overrides the init value when set.
        :param return_embedding: Overrides the init value when set.
        :param score_threshold: Overrides the init value when set.
        :returns: `documents`, nearest first, with their score.
        """
        arguments = self._arguments(filters, top_k, scale_score, return_embedding, score_threshold)
        return {"documents": self.document_store._query_by_embedding(query_embedding, **arguments)}

    @component.output_types(documents=list[Document])
    async def run_async(  # noqa: PLR0917
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | models.Filter | None = None,
        top_k: int | None = None,
        scale_score: bool | None = None,
        return_embedding: bool | None = None,
        score_threshold: float | None = None,
    ) -> dict[str, list[Document]]:
        """`run`, without blocking the event loop."""
        arguments = self._arguments(filters, top_k, scale_score, return_embedding, score_threshold)
        documents = await self.document_store._query_by_embedding_async(query_embedding, **arguments)
        return {"documents": documents}
