"""BM25 retrieval from the embedded `LocalBM25DocumentStore`."""

from __future__ import annotations

from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.document_stores.types import FilterPolicy, apply_filter_policy

from components.document_stores.local_bm25 import LocalBM25DocumentStore


@component
class LocalBM25Retriever:
    """
    Retrieves the documents of a `LocalBM25DocumentStore` that best match the query by BM25, with French analysis.

    The embedded stand-in for `ElasticsearchBM25Retriever`, modelled on Haystack's `InMemoryBM25Retriever`.
    """

    def __init__(
        self,
        document_store: LocalBM25DocumentStore,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        filter_policy: FilterPolicy | str = FilterPolicy.REPLACE,
    ) -> None:
        """
        :param document_store: The store to search.
        :param filters: Haystack metadata filters applied to every query.
        :param top_k: How many documents at most; greater than 0.
        :param scale_score: Scores mapped to (0, 1) instead of raw BM25 scores.
        :param filter_policy: REPLACE (run-time filters replace the init filters) or MERGE (both apply).
        """
        if not isinstance(document_store, LocalBM25DocumentStore):
            msg = "document_store must be an instance of LocalBM25DocumentStore"
            raise TypeError(msg)
        if top_k <= 0:
            msg = f"top_k must be greater than 0, but got {top_k}"
            raise ValueError(msg)
        self.document_store = document_store
        self.filters = filters
        self.top_k = top_k
        self.scale_score = scale_score
        self.filter_policy = FilterPolicy.from_str(filter_policy) if isinstance(filter_policy, str) else filter_policy

    def warm_up(self) -> None:
        """Open the store's index before the first query (and import the JSON file of an earlier version)."""
        self.document_store.warm_up()

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            document_store=self.document_store.to_dict(),
            filters=self.filters,
            top_k=self.top_k,
            scale_score=self.scale_score,
            filter_policy=self.filter_policy.value,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocalBM25Retriever:
        params = dict(data.get("init_parameters", {}))
        params["document_store"] = LocalBM25DocumentStore.from_dict(params["document_store"])
        return default_from_dict(cls, {**data, "init_parameters": params})

    def _arguments(self, filters: dict[str, Any] | None, top_k: int | None, scale_score: bool | None) -> dict[str, Any]:
        top_k = self.top_k if top_k is None else top_k
        if top_k < 0:
            msg = f"top_k must be greater than or equal to 0, but got {top_k}"
            raise ValueError(msg)
        return {
            "filters": apply_filter_policy(self.filter_policy, self.filters, filters),
            "top_k": top_k,
            "scale_score": self.scale_score if scale_score is None else scale_score,
        }

    @component.output_types(documents=list[Document])
    def run(
        self,
        query: str,
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
        scale_score: bool | None = None,
    ) -> dict[str, list[Document]]:
        """
        :param query: The question or keywords.
        :param filters: Haystack metadata filters, combined with the init filters by `filter_policy`.
        :param top_k: How many documents at most (0: none); the init value when `None`.
        :param scale_score: Overrides the init value when set.
        :returns: `documents`, best first, with their BM25 score.
        """
        arguments = self._arguments(filters, top_k, scale_score)
        return {"documents": self.document_store.bm25_retrieval(query=query, **arguments)}

    @component.output_types(documents=list[Document])
    async def run_async(
        self,
        query: str,
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
        scale_score: bool | None = None,
    ) -> dict[str, list[Document]]:
        """`run`, without blocking the event loop."""
        arguments = self._arguments(filters, top_k, scale_score)
        return {"documents": await self.document_store.bm25_retrieval_async(query=query, **arguments)}
