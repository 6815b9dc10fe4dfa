import copy
import datetime
from collections import namedtuple

import pytest
from haystack import Document, Pipeline, component
from haystack.core.pipeline import pipeline as haystack_pipeline
from haystack.core.pipeline import utils as haystack_utils
from haystack.dataclasses import ByteStream, SparseEmbedding

from service.pipeline_copies import copy_document, skip_copying_immutables

pytestmark = pytest.mark.unit

Span = namedtuple("Span", ["start", "end"])


@component
class Tagger:
    """Mutates what it receives, as a careless component would."""

    @component.output_types(documents=list[Document], embedding=list[float])
    def run(self, documents: list[Document], embedding: list[float]) -> dict:
        for doc in documents:
            doc.meta["seen"] = True
        embedding.append(99.0)
        return {"documents": documents, "embedding": embedding}


@pytest.fixture(scope="module")
def front():
    skip_copying_immutables()
    skip_copying_immutables()  # idempotent: the front is not stacked on itself
    return haystack_utils._deepcopy_with_exceptions


def test_the_front_replaces_haystacks_copy_everywhere_it_is_used(front):
    assert front.skips_immutables
    assert not getattr(front.haystacks_copy, "skips_immutables", False)
    assert haystack_pipeline._deepcopy_with_exceptions is front


def test_copies_are_the_same_as_haystacks(front):
    tagger = Tagger()
    doc = Document(content="Délai du chantier A2458", meta={"ao_id": "A2458", "pages": [1, 2]}, score=0.4)
    data = {
        "documents": [doc],
        "query": "délai",
        "top_k": 5,
        "embedding": [0.25, -1.0, 3.5],
        "nested": {"spans": (Span(1, 2), Span(3, 4)), "flags": {True, None}, "raw": b"\x00"},
        "component": tagger,
    }
    ours, theirs = front(data), front.haystacks_copy(data)
    assert ours == theirs == data
    assert ours["query"] is data["query"]
    assert ours["component"] is tagger  # components are passed on, never copied
    assert ours["documents"] is not data["documents"]
    assert ours["documents"][0] is not doc
    assert ours["embedding"] is not data["embedding"]
    assert type(ours["nested"]["spans"][0]) is Span
    ours["documents"][0].meta["pages"].append(3)
    assert doc.meta["pages"] == [1, 2]  # a deep copy: the caller's document is untouched


def test_a_graph_still_hands_each_node_its_own_copy(front):
    pipeline = Pipeline()
    pipeline.add_component("tagger", Tagger())
    doc = Document(content="NF P 98-331", meta={})
    embedding = [0.5, 0.5]
    out = pipeline.run({"tagger": {"documents": [doc], "embedding": embedding}})
    assert out["tagger"]["documents"][0].meta == {"seen": True}
    assert out["tagger"]["embedding"] == [0.5, 0.5, 99.0]
    assert doc.meta == {}
    assert embedding == [0.5, 0.5]


def test_a_document_copied_field_by_field_equals_its_deep_copy():
    doc = Document(
        content="Facture 2023-114",
        blob=ByteStream(b"%PDF", mime_type="application/pdf"),
        meta={
            "ao_id": "A2458",
            "tags": ["enrobés", "RD 912"],
            "pages": (1, 2),
            "extra": {"lot": [3]},
            "date": datetime.date(2025, 10, 8),
        },
        score=0.5,
        embedding=[0.1, 0.2],
        sparse_embedding=SparseEmbedding(indices=[1, 7], values=[0.5, 0.25]),
    )
    copied = copy_document(doc)
    assert copied == copy.deepcopy(doc) == doc
    assert type(copied) is Document
    assert copied.id == doc.id
    for field in ("meta", "embedding", "blob", "sparse_embedding"):
        assert getattr(copied, field) is not getattr(doc, field)
    copied.meta["tags"].append("purges")
    copied.meta["extra"]["lot"].append(4)
    copied.embedding.append(0.3)
    assert doc.meta["tags"] == ["enrobés", "RD 912"]
    assert doc.meta["extra"] == {"lot": [3]}
    assert doc.embedding == [0.1, 0.2]
