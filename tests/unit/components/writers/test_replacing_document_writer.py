import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy

from components.writers import ReplacingDocumentWriter

pytestmark = pytest.mark.unit


@pytest.fixture
def store():
    store = InMemoryDocumentStore()
    store.write_documents([Document(id=i, content=f"ancien {i}") for i in ["a1", "a2", "b1"]])
    return store


def test_to_dict_from_dict(store):
    writer = ReplacingDocumentWriter(document_store=store, policy=DuplicatePolicy.OVERWRITE)
    data = component_to_dict(writer, "vector_writer")
    assert data["type"] == "components.writers.replacing_document_writer.ReplacingDocumentWriter"
    assert data["init_parameters"]["policy"] == "OVERWRITE"
    assert component_from_dict(ReplacingDocumentWriter, data, "vector_writer").policy == DuplicatePolicy.OVERWRITE


def test_run_replaces_the_previous_chunks(store):
    writer = ReplacingDocumentWriter(document_store=store, policy=DuplicatePolicy.OVERWRITE)
    new = [Document(id="a1", content="nouveau 1"), Document(id="a3", content="nouveau 3")]
    assert writer.run(documents=new, replaced_ids=["a1", "a2"]) == {"documents_written": 2}
    contents = {d.id: d.content for d in store.filter_documents()}
    assert contents == {"a1": "nouveau 1", "a3": "nouveau 3", "b1": "ancien b1"}


def test_run_twice_changes_nothing(store):
    writer = ReplacingDocumentWriter(document_store=store, policy=DuplicatePolicy.OVERWRITE)
    new = [Document(id="a3", content="nouveau 3")]
    writer.run(documents=new, replaced_ids=["a1", "a2"])
    before = sorted(d.id for d in store.filter_documents())
    writer.run(documents=new, replaced_ids=["a1", "a2"])
    assert sorted(d.id for d in store.filter_documents()) == before == ["a3", "b1"]


def test_run_with_no_documents_only_deletes(store):
    writer = ReplacingDocumentWriter(document_store=store)
    assert writer.run(documents=[], replaced_ids=["b1"]) == {"documents_written": 0}
    assert sorted(d.id for d in store.filter_documents()) == ["a1", "a2"]


async def test_run_async(store):
    writer = ReplacingDocumentWriter(document_store=store, policy=DuplicatePolicy.OVERWRITE)
    result = await writer.run_async(documents=[Document(id="b2", content="x")], replaced_ids=["b1"])
    assert result == {"documents_written": 1}
    assert sorted(d.id for d in store.filter_documents()) == ["a1", "a2", "b2"]
