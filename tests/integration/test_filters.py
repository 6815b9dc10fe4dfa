"""
Request filters mean the same in every store: Qdrant (local mode, as qdrant-haystack's own reference), Qdrant Edge
(the embedded vector store, with the payload indexes the embedded binding gives it), the embedded BM25 store and
Elasticsearch.

The same documents go into each store; each filter must select the same ids through each store's retriever and
`filter_documents`. Dates are ISO strings `YYYY-MM-DD` in `meta.publish_date` (what the indexing graph writes): they
compare as dates in all of them (Qdrant: datetime range; Elasticsearch: `date` field; Haystack's filters: ISO dates).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from haystack import Document
from haystack_integrations.components.retrievers.elasticsearch import ElasticsearchBM25Retriever
from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from components.document_stores.elasticsearch_french import FrenchElasticsearchDocumentStore
from components.document_stores.local_bm25 import LocalBM25DocumentStore
from components.document_stores.qdrant_edge import QdrantEdgeDocumentStore
from components.retrievers.local_bm25 import LocalBM25Retriever
from components.retrievers.qdrant_edge import QdrantEdgeEmbeddingRetriever
from service.pipelines import embedded_payload_indexes
from service.settings import load_settings
from tests.integration.es_server import elasticsearch_url  # noqa: F401  (a fixture)

pytestmark = pytest.mark.integration

QUERY = "chantier"
EMBEDDING = [1.0, 0.0, 0.0, 0.0]
META = [
    # id: theme, document_type, ao_id, service, code_affaire, publish_date
    ("d1", "voirie", "cctp", "AO-2025-012", "Direction des routes", "A2458", "2025-01-15"),
    ("d2", "voirie", "facture", "AO-2025-012", "Direction des routes", "A2458", "2025-03-01"),
    ("d3", "voirie", "compte_rendu", "AO-2025-031", "Service de l'eau", "A2459", "2025-06-30"),
    ("d4", "assainissement", "cctp", "AO-2025-031", "Service de l'eau", "B1037", "2025-07-01"),
    ("d5", "assainissement", "pv_reception", "AO-2024-107", None, "B1037", "2024-12-31"),
    ("d6", "batiment", "facture", "AO-2024-107", "Patrimoine bâti", "A2511", "2025-11-03"),
]


def _documents() -> list[Document]:
    documents = []
    for doc_id, theme, doc_type, ao_id, service, code, date in META:
        meta = {"theme": theme, "document_type": doc_type, "ao_id": ao_id, "code_affaire": code, "publish_date": date}
        if service is not None:
            meta["service"] = service
        content = f"Document {doc_type} du chantier {code}, thème {theme}."
        documents.append(Document(id=doc_id, content=content, meta=meta, embedding=EMBEDDING))
    return documents


def _eq(field: str, value: Any) -> dict[str, Any]:
    return {"field": f"meta.{field}", "operator": "==", "value": value}


FILTERS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "theme": (_eq("theme", "voirie"), {"d1", "d2", "d3"}),
    "document_type in": (
        {"field": "meta.document_type", "operator": "in", "value": ["cctp", "facture"]},
        {"d1", "d2", "d4", "d6"},
    ),
    "ao_id": (_eq("ao_id", "AO-2025-031"), {"d3", "d4"}),
    "service with an apostrophe": (_eq("service", "Service de l'eau"), {"d3", "d4"}),
    "service, accented": (_eq("service", "Patrimoine bâti"), {"d6"}),
    "service != (missing field included)": (
        {"field": "meta.service", "operator": "!=", "value": "Direction des routes"},
        {"d3", "d4", "d5", "d6"},
    ),
    "code_affaire, exact": (_eq("code_affaire", "A2458"), {"d1", "d2"}),
    "date, exact (a datetime-indexed field in Qdrant Edge)": (_eq("publish_date", "2025-03-01"), {"d2"}),
    "date range, bounds included/excluded": (
        {
            "operator": "AND",
            "conditions": [
                {"field": "meta.publish_date", "operator": ">=", "value": "2025-03-01"},
                {"field": "meta.publish_date", "operator": "<", "value": "2025-07-01"},
            ],
        },
        {"d2", "d3"},
    ),
    "date after, across a year": (
        {"field": "meta.publish_date", "operator": ">", "value": "2024-12-31"},
        {"d1", "d2", "d3", "d4", "d6"},
    ),
    "theme AND date": (
        {
            "operator": "AND",
            "conditions": [
                _eq("theme", "assainissement"),
                {"field": "meta.publish_date", "operator": "<=", "value": "2025-07-01"},
            ],
        },
        {"d4", "d5"},
    ),
    "code_affaire OR ao_id": (
        {"operator": "OR", "conditions": [_eq("code_affaire", "A2511"), _eq("ao_id", "AO-2025-012")]},
        {"d1", "d2", "d6"},
    ),
    "NOT theme": ({"operator": "NOT", "conditions": [_eq("theme", "voirie")]}, {"d4", "d5", "d6"}),
}


@pytest.fixture(scope="module")
def qdrant(tmp_path_factory: pytest.TempPathFactory) -> QdrantDocumentStore:
    store = QdrantDocumentStore(
        path=str(tmp_path_factory.mktemp("qdrant")),
        index="filters",
        embedding_dim=4,
        similarity="cosine",
        progress_bar=False,
    )
    store.write_documents(_documents())
    return store


@pytest.fixture(scope="module")
def qdrant_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QdrantEdgeDocumentStore]:
    store = QdrantEdgeDocumentStore(
        path=str(tmp_path_factory.mktemp("qdrant-edge")),
        index="filters",
        embedding_dim=4,
        similarity="cosine",
        payload_fields_to_index=embedded_payload_indexes(load_settings()),
    )
    store.write_documents(_documents())
    yield store
    store.close()


@pytest.fixture(scope="module")
def local_bm25(tmp_path_factory: pytest.TempPathFactory) -> LocalBM25DocumentStore:
    store = LocalBM25DocumentStore(path=str(tmp_path_factory.mktemp("bm25") / "bm25"))
    store.write_documents(_documents())
    return store


@pytest.fixture(scope="module")
def elasticsearch(elasticsearch_url: str) -> Iterator[FrenchElasticsearchDocumentStore]:  # noqa: F811
    index = f"test_filters_{uuid.uuid4().hex[:8]}"
    store = FrenchElasticsearchDocumentStore(hosts=elasticsearch_url, index=index, number_of_replicas=0)
    store.write_documents(_documents())
    yield store
    store.close()
    Elasticsearch(elasticsearch_url).indices.delete(index=index)


def _retrieved(store: Any, filters: dict[str, Any]) -> set[str]:
    if isinstance(store, QdrantDocumentStore):
        found = QdrantEmbeddingRetriever(document_store=store, top_k=50).run(query_embedding=EMBEDDING, filters=filters)
    elif isinstance(store, QdrantEdgeDocumentStore):
        retriever = QdrantEdgeEmbeddingRetriever(document_store=store, top_k=50)
        found = retriever.run(query_embedding=EMBEDDING, filters=filters)
    elif isinstance(store, LocalBM25DocumentStore):
        found = LocalBM25Retriever(document_store=store, top_k=50).run(query=QUERY, filters=filters)
    else:
        retriever = ElasticsearchBM25Retriever(document_store=store, top_k=50, fuzziness="0")
        found = retriever.run(query=QUERY, filters=filters)
    return {d.id for d in found["documents"]}


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("store_name", ["qdrant", "qdrant_edge", "local_bm25", "elasticsearch"])
def test_a_filter_selects_the_same_documents_in_every_store(request, store_name, name):
    store = request.getfixturevalue(store_name)
    filters, expected = FILTERS[name]
    assert _retrieved(store, filters) == expected
    assert {d.id for d in store.filter_documents(filters)} == expected


@pytest.mark.parametrize("store_name", ["qdrant", "qdrant_edge", "local_bm25", "elasticsearch"])
def test_no_filter_retrieves_everything(request, store_name):
    store = request.getfixturevalue(store_name)
    assert _retrieved(store, None) == {row[0] for row in META}  # type: ignore[arg-type]


def test_every_store_holds_the_dates_as_iso_strings(qdrant, qdrant_edge, local_bm25, elasticsearch):
    for store in (qdrant, qdrant_edge, local_bm25, elasticsearch):
        dates = {d.id: d.meta["publish_date"] for d in store.filter_documents()}
        assert dates == {row[0]: row[6] for row in META}, type(store).__name__
