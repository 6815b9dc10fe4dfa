"""Elasticsearch with French analysis and codes kept whole: the production BM25 store."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import numpy as np
from elasticsearch import AsyncElasticsearch, BadRequestError, Elasticsearch
from haystack import Document, default_from_dict, default_to_dict
from haystack.utils import Secret
from haystack_integrations.document_stores.elasticsearch import ElasticsearchDocumentStore
from haystack_integrations.document_stores.elasticsearch.filters import _normalize_filters

from components.french_analysis import ELASTICSEARCH_ANALYSIS, FrenchAnalyzer

BM25_SCALING_FACTOR = 8  # as ElasticsearchDocumentStore
_API_KEY = Secret.from_env_var("ELASTIC_API_KEY", strict=False)
_API_KEY_ID = Secret.from_env_var("ELASTIC_API_KEY_ID", strict=False)


def french_mapping(meta_fields_to_search: list[str]) -> dict[str, Any]:
    """
    The index mapping: `content` analysed in French with a `codes` sub-field; each searched metadata field a keyword
    (exact filters) with `text` and `codes` sub-fields; other strings keywords; `publish_date` a date; embeddings
    kept in `_source` only (Qdrant searches them).
    """
    searched = {
        "type": "text",
        "analyzer": "french_custom",
        "fields": {"codes": {"type": "text", "analyzer": "code_analyzer"}},
    }
    properties: dict[str, Any] = {
        "content": searched,
        "publish_date": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
        "embedding": {"type": "object", "enabled": False},
    }
    for field in meta_fields_to_search:
        properties[field] = {
            "type": "keyword",
            "fields": {"text": {"type": "text", "analyzer": "french_custom"}, "codes": searched["fields"]["codes"]},
        }
    return {
        "dynamic_templates": [{"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}],
        "properties": properties,
    }


class FrenchElasticsearchDocumentStore(ElasticsearchDocumentStore):
    """
    `ElasticsearchDocumentStore` whose index is created with French analysis, and whose BM25 query also matches
    codes and references whole (`A2458`, `NF P 98-331`, `BB 0/10`).

    When the index does not exist, it is created with `analysis` in its settings (elasticsearch-haystack's
    `custom_mapping` alone cannot carry analysis settings) and `custom_mapping` (default: `french_mapping`). An
    existing index is used as it is. The BM25 query is the French-analysed text of the query on `content` (and the
    `text` sub-field of each of `meta_fields_to_search`), OR each code of the query (`FrenchAnalyzer.codes`) as a term
    on their `codes` sub-fields, boosted by `codes_boost`. Use it with `ElasticsearchBM25Retriever` and
    `fuzziness: "0"` (fuzzy matching would let `A2459` match `A2458`).
    """

    def __init__(
        self,
        *,
        hosts: Any = None,
        index: str = "default",
        custom_mapping: dict[str, Any] | None = None,
        analysis: dict[str, Any] | None = None,
        number_of_shards: int = 1,
        number_of_replicas: int | None = None,
        meta_fields_to_search: list[str] | None = None,
        codes_boost: float = 2.0,
        api_key: Secret | str | None = _API_KEY,
        api_key_id: Secret | str | None = _API_KEY_ID,
        **kwargs: Any,
    ) -> None:
        """
        :param hosts: The Elasticsearch hosts.
        :param index: The index name.
        :param custom_mapping: The mapping of a new index; `french_mapping(meta_fields_to_search)` when `None`.
        :param analysis: The `analysis` settings of a new index; `ELASTICSEARCH_ANALYSIS` when `None`.
        :param number_of_shards: Shards of a new index.
        :param number_of_replicas: Replicas of a new index; the cluster's default when `None`.
        :param meta_fields_to_search: Metadata fields searched with the content (default: `title`).
        :param codes_boost: Weight of a code of the query found whole in a document.
        :param api_key: API key (or `id:key` base64) from the environment.
        :param api_key_id: API key id from the environment.
        :param kwargs: Passed to `ElasticsearchDocumentStore` and the Elasticsearch client.
        """
        self.meta_fields_to_search = ["title"] if meta_fields_to_search is None else list(meta_fields_to_search)
        self.analysis = copy.deepcopy(ELASTICSEARCH_ANALYSIS) if analysis is None else analysis
        self.number_of_shards = number_of_shards
        self.number_of_replicas = number_of_replicas
        self.codes_boost = codes_boost
        super().__init__(
            hosts=hosts,
            index=index,
            custom_mapping=custom_mapping if custom_mapping is not None else french_mapping(self.meta_fields_to_search),
            api_key=api_key,
            api_key_id=api_key_id,
            **kwargs,
        )
        self._analyzer = FrenchAnalyzer()

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        init = data["init_parameters"]
        for name in ("embedding_similarity_function", "sparse_vector_field", "ingest_pipeline"):
            if init.get(name) in (None, "cosine"):
                init.pop(name, None)
        return default_to_dict(
            self,
            **init,
            analysis=self.analysis,
            number_of_shards=self.number_of_shards,
            number_of_replicas=self.number_of_replicas,
            meta_fields_to_search=self.meta_fields_to_search,
            codes_boost=self.codes_boost,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrenchElasticsearchDocumentStore:
        params = dict(data.get("init_parameters", {}))
        for name in ("api_key", "api_key_id"):
            if isinstance(params.get(name), dict):
                params[name] = Secret.from_dict(params[name])
        return default_from_dict(cls, {**data, "init_parameters": params})

    # --- index creation -------------------------------------------------------------------------------------------

    def _index_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"number_of_shards": self.number_of_shards, "analysis": self.analysis}
        if self.number_of_replicas is not None:
            settings["number_of_replicas"] = self.number_of_replicas
        return settings

    def _ensure_initialized(self) -> None:
        if self._client is None:
            client = Elasticsearch(self._hosts, api_key=self._handle_auth(), headers=self._headers, **self._kwargs)
            client.info()
            if not client.indices.exists(index=self._index):
                try:
                    client.indices.create(
                        index=self._index, settings=self._index_settings(), mappings=self._custom_mapping
                    )
                except BadRequestError as e:
                    if e.error != "resource_already_exists_exception":  # created meanwhile by another process
                        raise
            self._client = client

    async def _ensure_initialized_async(self) -> None:
        if self._async_client is None:
            client = self._create_async_client()
            await client.info()
            if not await client.indices.exists(index=self._index):
                try:
                    await client.indices.create(
                        index=self._index, settings=self._index_settings(), mappings=self._custom_mapping
                    )
                except BadRequestError as e:
                    if e.error != "resource_already_exists_exception":
                        raise
            self._async_client = client

    def _create_async_client(self) -> AsyncElasticsearch:
        return AsyncElasticsearch(self._hosts, api_key=self._handle_auth(), headers=self._headers, **self._kwargs)

    # --- BM25 -----------------------------------------------------------------------------------------------------

    def _bm25_body(self, query: str, filters: dict[str, Any] | None, fuzziness: str, top_k: int) -> dict[str, Any]:
        if not query:
            msg = "query must be a non empty string"
            raise ValueError(msg)
        text: dict[str, Any] = {"query": query}
        if str(fuzziness) != "0":
            text["fuzziness"] = fuzziness
        should: list[dict[str, Any]] = [{"match": {"content": text}}]
        should += [{"match": {f"{field}.text": text}} for field in self.meta_fields_to_search]
        for code in dict.fromkeys(self._analyzer.codes(query)):
            for field in ["content", *self.meta_fields_to_search]:
                should.append({"term": {f"{field}.codes": {"value": code, "boost": self.codes_boost}}})
        body: dict[str, Any] = {"size": top_k, "query": {"bool": {"should": should, "minimum_should_match": 1}}}
        if filters:
            body["query"]["bool"]["filter"] = _normalize_filters(filters)
        return body

    @staticmethod
    def _scaled(documents: list[Document]) -> list[Document]:
        return [
            replace(doc, score=float(1 / (1 + np.exp(-doc.score / BM25_SCALING_FACTOR))))
            if doc.score is not None
            else doc
            for doc in documents
        ]

    def _bm25_retrieval(
        self,
        query: str,
        *,
        filters: dict[str, Any] | None = None,
        fuzziness: str = "0",
        top_k: int = 10,
        scale_score: bool = False,
    ) -> list[Document]:
        documents = self._search_documents(**self._bm25_body(query, filters, fuzziness, top_k))
        return self._scaled(documents) if scale_score else documents

    async def _bm25_retrieval_async(
        self,
        query: str,
        *,
        filters: dict[str, Any] | None = None,
        fuzziness: str = "0",
        top_k: int = 10,
        scale_score: bool = False,
    ) -> list[Document]:
        await self._ensure_initialized_async()
        documents = await self._search_documents_async(**self._bm25_body(query, filters, fuzziness, top_k))
        return self._scaled(documents) if scale_score else documents

    # --- statistics -----------------------------------------------------------------------------------------------

    def term_statistics(self, text: str) -> tuple[int, dict[str, int]]:
        """
        How many documents the index holds, and how many hold each term of `text` (as `FrenchAnalyzer.tokens`
        names them): one `_msearch` of counts, a word matched on `content` as the index analyses it, a code as a
        whole term on `content.codes`.
        """
        self._ensure_initialized()
        assert self._client is not None
        words = {term: word for word in text.split() for term in self._analyzer.words(word)}
        codes = list(dict.fromkeys(c for c in self._analyzer.codes(text) if c not in words))
        queries = [{"match": {"content": word}} for word in words.values()]
        queries += [{"term": {"content.codes": {"value": code}}} for code in codes]
        searches: list[dict[str, Any]] = []
        for query in [{"match_all": {}}, *queries]:
            searches += [{"index": self._index}, {"size": 0, "track_total_hits": True, "query": query}]
        responses = self._client.msearch(searches=searches)["responses"]
        counts = [int(r.get("hits", {}).get("total", {}).get("value", 0)) for r in responses]
        return counts[0], dict(zip([*words, *codes], counts[1:], strict=True))
