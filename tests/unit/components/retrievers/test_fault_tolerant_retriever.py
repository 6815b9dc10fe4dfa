import pytest
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.errors import FilterError

from components.retrievers import FaultTolerantRetriever, RetrievalUnavailableError
from components.retrievers.retrieval_report import BACKEND_STATUS, close_report, open_report

pytestmark = pytest.mark.unit


class DownStore(InMemoryDocumentStore):
    """A store whose server is unreachable."""

    def bm25_retrieval(self, *args, **kwargs):
        raise ConnectionError("Connection refused")

    def embedding_retrieval(self, *args, **kwargs):
        raise ConnectionError("Connection refused")


class RefusingStore(InMemoryDocumentStore):
    def bm25_retrieval(self, *args, **kwargs):
        raise FilterError("bad filter")


@pytest.fixture
def store():
    store = InMemoryDocumentStore()
    store.write_documents([Document(id="1", content="délai de la RD 912", embedding=[1.0, 0.0])])
    return store


def test_init_mirrors_the_wrapped_inputs(store):
    wrapper = FaultTolerantRetriever(InMemoryBM25Retriever(store), backend="bm25")
    assert set(wrapper.__haystack_input__._sockets_dict) == {"query", "filters", "top_k", "scale_score"}
    assert wrapper.__haystack_input__._sockets_dict["query"].is_mandatory


def test_to_dict_from_dict_round_trip(store):
    wrapper = FaultTolerantRetriever(InMemoryBM25Retriever(store, top_k=7), backend="bm25", alternatives=["dense"])
    data = wrapper.to_dict()
    assert data["init_parameters"]["retriever"]["init_parameters"]["top_k"] == 7
    again = FaultTolerantRetriever.from_dict(data)
    assert again.backend == "bm25"
    assert again.alternatives == ["dense"]
    assert again.retriever.top_k == 7


def test_run_passes_through_when_up(store):
    out = FaultTolerantRetriever(InMemoryBM25Retriever(store), backend="bm25").run(query="délai")
    assert [d.id for d in out["documents"]] == ["1"]
    assert out["degraded"] is False


def test_store_down_returns_nothing_and_says_degraded():
    report, token = open_report()
    try:
        out = FaultTolerantRetriever(InMemoryBM25Retriever(DownStore()), "bm25", ["dense"]).run(query="délai")
    finally:
        close_report(token)
    assert out == {"documents": [], "degraded": True}
    assert report.failed == {"bm25"}
    assert not report.unavailable
    assert BACKEND_STATUS["bm25"].down_recently(60)


def test_every_backend_down_raises():
    report, token = open_report()
    try:
        FaultTolerantRetriever(InMemoryBM25Retriever(DownStore()), "bm25", ["dense"]).run(query="q")
        with pytest.raises(RetrievalUnavailableError):
            FaultTolerantRetriever(InMemoryEmbeddingRetriever(DownStore()), "dense", ["bm25"]).run(
                query_embedding=[1.0, 0.0]
            )
    finally:
        close_report(token)
    assert report.unavailable


def test_a_bad_request_is_not_an_outage():
    with pytest.raises(FilterError):
        FaultTolerantRetriever(InMemoryBM25Retriever(RefusingStore()), "bm25").run(query="q")


def test_in_a_pipeline_the_other_retriever_answers_alone(store):
    """The hybrid shape of the rag graph: the BM25 store is down, the dense one answers."""
    pipeline = Pipeline()
    pipeline.add_component("dense", FaultTolerantRetriever(InMemoryEmbeddingRetriever(store), "dense", ["bm25"]))
    pipeline.add_component("bm25", FaultTolerantRetriever(InMemoryBM25Retriever(DownStore()), "bm25", ["dense"]))
    out = pipeline.run({"dense": {"query_embedding": [1.0, 0.0]}, "bm25": {"query": "délai"}})
    assert [d.id for d in out["dense"]["documents"]] == ["1"]
    assert out["bm25"] == {"documents": [], "degraded": True}
