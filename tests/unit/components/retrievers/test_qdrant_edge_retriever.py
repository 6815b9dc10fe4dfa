"""`QdrantEdgeEmbeddingRetriever`: the inputs, output and parameters of qdrant-haystack's `QdrantEmbeddingRetriever`."""

import asyncio
import inspect

import pytest
from haystack import Document, Pipeline
from haystack.document_stores.types import FilterPolicy
from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever
from qdrant_client.http import models

from components.document_stores.qdrant_edge import QdrantEdgeDocumentStore
from components.retrievers.qdrant_edge import QdrantEdgeEmbeddingRetriever

pytestmark = pytest.mark.unit

TYPE = "components.retrievers.qdrant_edge.retriever.QdrantEdgeEmbeddingRetriever"


@pytest.fixture
def store(tmp_path):
    store = QdrantEdgeDocumentStore(path=str(tmp_path / "edge"), index="test", embedding_dim=2)
    store.write_documents(
        [
            Document(id="voirie", content="enrobé", meta={"theme": "voirie"}, embedding=[1.0, 0.0]),
            Document(id="eau", content="réseau", meta={"theme": "eau"}, embedding=[0.8, 0.6]),
            Document(id="bat", content="dalle", meta={"theme": "batiment"}, embedding=[0.0, 1.0]),
        ]
    )
    yield store
    store.close()


def test_same_init_parameters_and_inputs_as_qdrant_embedding_retriever():
    qdrant_init = set(inspect.signature(QdrantEmbeddingRetriever.__init__).parameters) - {"group_by", "group_size"}
    assert set(inspect.signature(QdrantEdgeEmbeddingRetriever.__init__).parameters) == qdrant_init
    qdrant_run = set(inspect.signature(QdrantEmbeddingRetriever.run).parameters) - {"group_by", "group_size"}
    assert set(inspect.signature(QdrantEdgeEmbeddingRetriever.run).parameters) == qdrant_run


def test_init_rejects_another_store():
    with pytest.raises(ValueError, match="instance of QdrantEdgeDocumentStore"):
        QdrantEdgeEmbeddingRetriever(document_store="store")  # type: ignore[arg-type]


def test_to_dict_from_dict(store):
    retriever = QdrantEdgeEmbeddingRetriever(
        store,
        filters={"field": "meta.theme", "operator": "==", "value": "eau"},
        top_k=5,
        filter_policy="merge",
        score_threshold=0.1,
    )
    data = retriever.to_dict()
    assert data["type"] == TYPE
    assert data["init_parameters"]["document_store"] == store.to_dict()
    assert data["init_parameters"]["filter_policy"] == "merge"
    restored = QdrantEdgeEmbeddingRetriever.from_dict(data)
    assert restored.to_dict() == data
    assert restored.filter_policy == FilterPolicy.MERGE


def test_run_nearest_first_with_filters_and_policies(store):
    retriever = QdrantEdgeEmbeddingRetriever(store, top_k=2)
    assert [d.id for d in retriever.run(query_embedding=[1.0, 0.0])["documents"]] == ["voirie", "eau"]
    not_voirie = {"field": "meta.theme", "operator": "!=", "value": "voirie"}
    assert [d.id for d in retriever.run(query_embedding=[1.0, 0.0], filters=not_voirie)["documents"]] == ["eau", "bat"]
    native = models.Filter(must=[models.FieldCondition(key="meta.theme", match=models.MatchValue(value="batiment"))])
    assert [d.id for d in retriever.run(query_embedding=[1.0, 0.0], filters=native)["documents"]] == ["bat"]
    merged = QdrantEdgeEmbeddingRetriever(store, filters=not_voirie, filter_policy=FilterPolicy.MERGE)
    eau = {"field": "meta.theme", "operator": "==", "value": "eau"}
    assert [d.id for d in merged.run(query_embedding=[1.0, 0.0], filters=eau)["documents"]] == ["eau"]
    with pytest.raises(ValueError, match="MERGE"):
        merged.run(query_embedding=[1.0, 0.0], filters=native)
    scored = retriever.run(query_embedding=[1.0, 0.0], top_k=1, scale_score=True, return_embedding=True)
    assert (scored["documents"][0].score, scored["documents"][0].embedding) == (pytest.approx(1.0), [1.0, 0.0])


def test_run_async_in_a_pipeline(store):
    pipeline = Pipeline()
    pipeline.add_component("retriever", QdrantEdgeEmbeddingRetriever(store, top_k=1))
    found = pipeline.run({"retriever": {"query_embedding": [0.0, 1.0]}})["retriever"]["documents"]
    assert [d.id for d in found] == ["bat"]
    result = asyncio.run(QdrantEdgeEmbeddingRetriever(store, top_k=1).run_async(query_embedding=[0.0, 1.0]))
    assert [d.id for d in result["documents"]] == ["bat"]
