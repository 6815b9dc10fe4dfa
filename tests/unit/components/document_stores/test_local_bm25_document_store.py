import json
from pathlib import Path

import pytest
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy

from components.document_stores.local_bm25 import LocalBM25DocumentStore

pytestmark = pytest.mark.unit

TYPE = "components.document_stores.local_bm25.document_store.LocalBM25DocumentStore"


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "stores" / "bm25-test.json")


@pytest.fixture
def documents() -> list[Document]:
    return [
        Document(id="beton", content="Le béton armé des fondations du lot 2", meta={"lot": "2"}),
        Document(id="enrobe", content="Enrobé bitumineux de la chaussée", meta={"lot": "3"}),
        Document(id="grave", content="Grave non traitée en couche de forme", meta={"lot": "3"}),
    ]


def _on_disk(path: str) -> dict[str, dict]:
    return {d["id"]: d for d in json.loads(Path(path).read_text(encoding="utf-8"))["documents"]}


def test_init(path):
    store = LocalBM25DocumentStore(path=path, bm25_algorithm="BM25Okapi", bm25_parameters={"k1": 1.2})
    assert store.path == path
    assert store.bm25_algorithm == "BM25Okapi"
    assert store.bm25_parameters == {"k1": 1.2}
    assert store.count_documents() == 0
    assert not Path(path).exists()  # created on the first write only


def test_to_dict(path):
    store = LocalBM25DocumentStore(path=path, bm25_algorithm="BM25Plus", bm25_parameters={"k1": 1.2})
    assert store.to_dict() == {
        "type": TYPE,
        "init_parameters": {"path": path, "bm25_algorithm": "BM25Plus", "bm25_parameters": {"k1": 1.2}},
    }


def test_from_dict(path, documents):
    LocalBM25DocumentStore(path=path).write_documents(documents)
    data = {
        "type": TYPE,
        "init_parameters": {"path": path, "bm25_algorithm": "BM25Okapi", "bm25_parameters": {"b": 0.5}},
    }
    store = LocalBM25DocumentStore.from_dict(data)
    assert (store.path, store.bm25_algorithm, store.bm25_parameters) == (path, "BM25Okapi", {"b": 0.5})
    assert store.count_documents() == len(documents)
    assert LocalBM25DocumentStore.from_dict(store.to_dict()).to_dict() == store.to_dict()


def test_write_documents_creates_the_file(path, documents):
    store = LocalBM25DocumentStore(path=path)
    assert store.write_documents(documents) == len(documents)
    assert set(_on_disk(path)) == {d.id for d in documents}
    assert [p.name for p in Path(path).parent.iterdir()] == [Path(path).name]  # no temporary file left behind


def test_documents_persist_across_instances(path, documents):
    LocalBM25DocumentStore(path=path).write_documents(documents)
    reopened = LocalBM25DocumentStore(path=path)
    assert reopened.count_documents() == len(documents)
    assert {d.id: (d.content, d.meta) for d in reopened.filter_documents()} == {
        d.id: (d.content, d.meta) for d in documents
    }


def test_write_by_one_instance_is_seen_by_another(path, documents):
    writer = LocalBM25DocumentStore(path=path)
    reader = LocalBM25DocumentStore(path=path)
    writer.write_documents(documents[1:])
    assert [d.id for d in reader.bm25_retrieval("béton fondations")] == []
    writer.write_documents(documents[:1])
    assert [d.id for d in reader.bm25_retrieval("béton fondations")] == ["beton"]
    writer.delete_documents(["beton"])
    assert reader.count_documents() == 2


async def test_async_retrieval_sees_writes_by_another_instance(path, documents):
    reader = LocalBM25DocumentStore(path=path)
    assert await reader.bm25_retrieval_async("enrobé") == []
    LocalBM25DocumentStore(path=path).write_documents(documents)
    assert [d.id for d in await reader.bm25_retrieval_async("enrobé")] == ["enrobe"]


def test_embeddings_are_not_stored(path):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents([Document(id="d1", content="Texte", embedding=[0.1, 0.2, 0.3])])
    assert store.filter_documents()[0].embedding is None
    assert _on_disk(path)["d1"]["embedding"] is None
    assert LocalBM25DocumentStore(path=path).filter_documents()[0].embedding is None


def test_write_does_not_mutate_the_given_documents(path):
    document = Document(id="d1", content="Texte", embedding=[0.1, 0.2])
    LocalBM25DocumentStore(path=path).write_documents([document])
    assert document.embedding == [0.1, 0.2]


def test_overwrite_of_the_same_ids_does_not_duplicate(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    updated = Document(id="beton", content="Béton fibré pour dallage", meta={"lot": "4"})
    assert store.write_documents([updated, documents[1]], policy=DuplicatePolicy.OVERWRITE) == 2
    assert store.count_documents() == len(documents)
    assert len(_on_disk(path)) == len(documents)
    reopened = LocalBM25DocumentStore(path=path)
    assert reopened.filter_documents({"field": "id", "operator": "==", "value": "beton"})[0].content == updated.content
    assert [d.id for d in reopened.bm25_retrieval("dallage fibré")] == ["beton"]
    assert reopened.bm25_retrieval("fondations armé") == []


def test_write_keeps_documents_written_by_another_instance(path, documents):
    first, second = LocalBM25DocumentStore(path=path), LocalBM25DocumentStore(path=path)
    first.write_documents(documents[:1])
    second.write_documents(documents[1:])
    assert set(_on_disk(path)) == {d.id for d in documents}


def test_overwrite_saves_the_file_once_per_write(path, documents, monkeypatch):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    saves = []
    original = store._save
    monkeypatch.setattr(store, "_save", lambda: (saves.append(len(store.storage)), original()))
    store.write_documents(documents, policy=DuplicatePolicy.OVERWRITE)
    assert saves == [len(documents)]  # never a file with part of the batch deleted


def test_write_of_an_existing_id_fails_by_default(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    with pytest.raises(DuplicateDocumentError):
        store.write_documents([documents[0]])


def test_delete_documents_persists(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    store.delete_documents(["enrobe"])
    assert set(_on_disk(path)) == {"beton", "grave"}
    assert {d.id for d in LocalBM25DocumentStore(path=path).filter_documents()} == {"beton", "grave"}


def test_delete_all_documents_persists(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    store.delete_all_documents()
    assert _on_disk(path) == {}
    assert LocalBM25DocumentStore(path=path).count_documents() == 0


def test_filter_documents(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    found = store.filter_documents({"field": "meta.lot", "operator": "==", "value": "3"})
    assert {d.id for d in found} == {"enrobe", "grave"}


def test_works_with_in_memory_bm25_retriever(path, documents):
    LocalBM25DocumentStore(path=path).write_documents(documents)
    retriever = InMemoryBM25Retriever(document_store=LocalBM25DocumentStore(path=path), top_k=2)
    assert retriever.run(query="béton armé")["documents"][0].id == "beton"
    lot_3 = {"field": "meta.lot", "operator": "==", "value": "3"}
    found = retriever.run(query="béton chaussée couche", filters=lot_3)["documents"]
    assert {d.id for d in found} == {"enrobe", "grave"}


def test_retriever_round_trips_through_a_pipeline_dict(path, documents):
    LocalBM25DocumentStore(path=path).write_documents(documents)
    pipeline = Pipeline()
    pipeline.add_component("bm25_retriever", InMemoryBM25Retriever(document_store=LocalBM25DocumentStore(path=path)))
    restored = Pipeline.from_dict(pipeline.to_dict(), allowed_modules=["components.*"])
    store = restored.get_component("bm25_retriever").document_store
    assert isinstance(store, LocalBM25DocumentStore)
    assert store.path == path
    assert restored.run({"bm25_retriever": {"query": "enrobé"}})["bm25_retriever"]["documents"][0].id == "enrobe"


def test_update_by_filter_persists(path, documents):
    store = LocalBM25DocumentStore(path=path)
    store.write_documents(documents)
    assert store.update_by_filter({"field": "meta.lot", "operator": "==", "value": "3"}, {"client": "Ville"}) == 2
    reopened = LocalBM25DocumentStore(path=path)
    assert {d.id for d in reopened.filter_documents({"field": "meta.client", "operator": "==", "value": "Ville"})} == {
        "enrobe",
        "grave",
    }
