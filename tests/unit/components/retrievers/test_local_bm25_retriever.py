import math
from pathlib import Path

import pytest
from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import FilterPolicy

from components.document_stores.local_bm25 import LocalBM25DocumentStore
from components.retrievers.local_bm25 import LocalBM25Retriever

pytestmark = pytest.mark.unit

TYPE = "components.retrievers.local_bm25.retriever.LocalBM25Retriever"
LOT_3 = {"field": "meta.lot", "operator": "==", "value": "3"}


@pytest.fixture
def store(tmp_path: Path) -> LocalBM25DocumentStore:
    store = LocalBM25DocumentStore(path=str(tmp_path / "bm25.json"))
    store.write_documents(
        [
            Document(id="beton", content="Le béton armé des fondations du lot 2", meta={"lot": "2"}),
            Document(id="enrobe", content="Enrobé bitumineux de la chaussée", meta={"lot": "3"}),
            Document(id="grave", content="Grave non traitée en couche de forme sous chaussée", meta={"lot": "3"}),
        ]
    )
    return store


def test_init(store):
    retriever = LocalBM25Retriever(
        document_store=store, filters=LOT_3, top_k=3, scale_score=True, filter_policy="merge"
    )
    assert (retriever.filters, retriever.top_k, retriever.scale_score) == (LOT_3, 3, True)
    assert retriever.filter_policy == FilterPolicy.MERGE


def test_init_rejects_another_store_and_a_bad_top_k(store):
    with pytest.raises(TypeError, match="LocalBM25DocumentStore"):
        LocalBM25Retriever(document_store=InMemoryDocumentStore())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top_k"):
        LocalBM25Retriever(document_store=store, top_k=0)


def test_to_dict_from_dict(store):
    retriever = LocalBM25Retriever(document_store=store, filters=LOT_3, top_k=4)
    data = retriever.to_dict()
    assert data["type"] == TYPE
    assert data["init_parameters"]["document_store"] == store.to_dict()
    assert data["init_parameters"]["filter_policy"] == "replace"
    restored = LocalBM25Retriever.from_dict(data)
    assert restored.to_dict() == data
    assert restored.run(query="chaussée")["documents"][0].id in {"enrobe", "grave"}


def test_run(store):
    retriever = LocalBM25Retriever(document_store=store, top_k=1)
    assert [d.id for d in retriever.run(query="béton armé")["documents"]] == ["beton"]
    assert len(retriever.run(query="chaussée béton", top_k=3)["documents"]) == 3
    assert retriever.run(query="chaussée", top_k=0)["documents"] == []
    with pytest.raises(ValueError, match="top_k"):
        retriever.run(query="chaussée", top_k=-1)


def test_run_filter_policies(store):
    lot_2 = {"field": "meta.lot", "operator": "==", "value": "2"}
    replace = LocalBM25Retriever(document_store=store, filters=LOT_3)
    assert {d.id for d in replace.run(query="chaussée béton")["documents"]} == {"enrobe", "grave"}
    assert {d.id for d in replace.run(query="chaussée béton", filters=lot_2)["documents"]} == {"beton"}
    merge = LocalBM25Retriever(document_store=store, filters=LOT_3, filter_policy=FilterPolicy.MERGE)
    not_grave = {"field": "id", "operator": "!=", "value": "grave"}
    assert [d.id for d in merge.run(query="chaussée béton", filters=not_grave)["documents"]] == ["enrobe"]


def test_run_scale_score(store):
    retriever = LocalBM25Retriever(document_store=store)
    raw = retriever.run(query="chaussée")["documents"]
    scaled = retriever.run(query="chaussée", scale_score=True)["documents"]
    assert [d.id for d in raw] == [d.id for d in scaled]
    assert [d.score for d in scaled] == pytest.approx([1 / (1 + math.exp(-d.score / 8)) for d in raw])
    assert all(0.5 < d.score < 1 for d in scaled)


async def test_run_async(store):
    retriever = LocalBM25Retriever(document_store=store)
    found = await retriever.run_async(query="fondations", filters={"field": "meta.lot", "operator": "==", "value": "2"})
    assert [d.id for d in found["documents"]] == ["beton"]
