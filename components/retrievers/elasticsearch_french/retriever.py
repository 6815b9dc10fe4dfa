"""Haystack's Elasticsearch BM25 retriever, loadable from YAML with the French Elasticsearch store."""

from __future__ import annotations

from typing import Any

from haystack import component, default_from_dict
from haystack.document_stores.types import FilterPolicy
from haystack_integrations.components.retrievers.elasticsearch import ElasticsearchBM25Retriever

from components.document_stores.elasticsearch_french.document_store import FrenchElasticsearchDocumentStore


@component
class FrenchElasticsearchBM25Retriever(ElasticsearchBM25Retriever):
    """
    `ElasticsearchBM25Retriever` whose YAML names a `FrenchElasticsearchDocumentStore`.

    The integration's `from_dict` rebuilds its store as a plain `ElasticsearchDocumentStore` and refuses any other
    type, so a graph naming the French store could not load with `stores.mode: servers`. Retrieval itself is the
    integration's, unchanged.
    """

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrenchElasticsearchBM25Retriever:
        """
        :param data: The serialised retriever.
        :returns: The retriever, its store rebuilt as a `FrenchElasticsearchDocumentStore`.
        """
        params = data["init_parameters"]
        params["document_store"] = FrenchElasticsearchDocumentStore.from_dict(params["document_store"])
        if filter_policy := params.get("filter_policy"):
            params["filter_policy"] = FilterPolicy.from_str(filter_policy)
        return default_from_dict(cls, data)
