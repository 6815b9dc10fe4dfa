import json
import logging
import os

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from gateway_testing import with_sections
from haystack import Document, Pipeline, component
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
from haystack.document_stores.in_memory import InMemoryDocumentStore

from components.retrievers import FaultTolerantRetriever
from service.gateway import install_gateway, observability
from service.gateway.context import CURRENT_REQUEST, RequestContext
from service.gateway.observability import AccessLog, flush_access_log, install_stage_timing, stage_of

pytestmark = pytest.mark.unit


class DownStore(InMemoryDocumentStore):
    def bm25_retrieval(self, *args, **kwargs):
        raise ConnectionError("Connection refused")

    def embedding_retrieval(self, *args, **kwargs):
        raise ConnectionError("Connection refused")


@component
class EchoGenerator:
    @component.output_types(replies=list[str])
    def run(self, documents: list[Document]) -> dict:
        return {"replies": [str(len(documents))]}


def test_stage_of_component_types():
    assert stage_of("haystack_integrations.components.embedders.x.SentenceTransformersTextEmbedder") == "embedding"
    assert stage_of("components.retrievers.fault_tolerant_retriever.FaultTolerantRetriever") == "retrieval"
    assert stage_of("components.rankers.metadata_booster.MetadataBooster") == "ranking"
    assert stage_of("components.generators.routed_chat_generator.RoutedChatGenerator") == "llm"
    assert stage_of("components.builders.prompt_selector.PromptSelector") is None


def test_component_runs_are_timed_into_the_request():
    install_stage_timing()
    store = InMemoryDocumentStore()
    store.write_documents([Document(content="délai")])
    pipeline = Pipeline()
    pipeline.add_component("retriever", InMemoryBM25Retriever(store))
    pipeline.add_component("llm", EchoGenerator())
    pipeline.connect("retriever.documents", "llm.documents")
    ctx = RequestContext("t", "POST", "/rag/run")
    token = CURRENT_REQUEST.set(ctx)
    try:
        pipeline.run({"retriever": {"query": "délai"}})
    finally:
        CURRENT_REQUEST.reset(token)
    assert set(ctx.timings) == {"retrieval", "llm"}
    assert all(seconds >= 0 for seconds in ctx.timings.values())


def _hybrid_app(settings, dense_store, bm25_store) -> TestClient:
    pipeline = Pipeline()
    pipeline.add_component(
        "dense_retriever", FaultTolerantRetriever(InMemoryEmbeddingRetriever(dense_store), "dense", ["bm25"])
    )
    pipeline.add_component(
        "bm25_retriever", FaultTolerantRetriever(InMemoryBM25Retriever(bm25_store), "bm25", ["dense"])
    )
    app = FastAPI()

    @app.post("/rag/run")
    async def rag_run(request: Request) -> dict:
        body = await request.json()
        out = await pipeline.run_async(
            {"dense_retriever": {"query_embedding": [1.0, 0.0]}, "bm25_retriever": {"query": body["query"]}}
        )
        return {"n": len(out["dense_retriever"]["documents"]) + len(out["bm25_retriever"]["documents"])}

    install_gateway(app, with_sections(settings, auth={"mode": "dev"}, cache={"backend": "off"}))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def store():
    store = InMemoryDocumentStore()
    store.write_documents([Document(id="1", content="délai de la RD 912", embedding=[1.0, 0.0])])
    return store


def test_one_store_down_is_served_degraded_and_said_so(settings, store, capsys):
    client = _hybrid_app(settings, store, DownStore())
    response = client.post("/rag/run", json={"query": "délai"})
    assert response.status_code == 200
    assert response.json() == {"n": 1, "degraded": ["bm25"]}
    assert response.headers["x-retrieval-degraded"] == "bm25"
    flush_access_log()
    line = json.loads([raw for raw in capsys.readouterr().out.splitlines() if '"route": "/rag/run"' in raw][-1])
    assert line["degraded"] == ["bm25"]
    assert line["ms"]["retrieval"] >= 0


def test_both_stores_down_is_503_then_retried(settings, store):
    client = _hybrid_app(settings, DownStore(), DownStore())
    response = client.post("/rag/run", json={"query": "délai"})
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "search backend" in response.json()["detail"]
    # Right after, RAG requests are refused up front (no stream is started only to fail).
    assert client.post("/rag/run", json={"query": "délai"}).status_code == 503


def test_a_degraded_openai_answer_says_so_in_its_text():
    from service.gateway.middleware import degraded_json, degraded_sse

    body = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Réponse [1]."}}]})
    data = json.loads(degraded_json(body.encode(), ["bm25"]))
    assert data["degraded"] == ["bm25"]
    assert data["choices"][0]["message"]["content"].startswith("Réponse [1].")
    assert "mode dégradé" in data["choices"][0]["message"]["content"]
    chunk = json.loads(degraded_sse(["dense"]).decode().removeprefix("data: "))
    assert "recherche sémantique" in chunk["choices"][0]["delta"]["content"]


def test_the_access_log_writes_every_line_in_order_from_its_own_thread(capsys):
    flush_access_log()  # the service's own access log: earlier tests' lines out of the way
    capsys.readouterr()
    access_log = AccessLog(interval=0.05)
    try:
        for n in range(500):
            access_log.write(json.dumps({"n": n}))
        access_log.flush()
        assert [json.loads(line)["n"] for line in capsys.readouterr().out.splitlines()] == list(range(500))
        access_log.write('{"n": "last"}')
    finally:
        access_log.close()  # writes what is still queued
    assert capsys.readouterr().out == '{"n": "last"}\n'
    access_log.close()  # closing twice is harmless


def test_uvicorn_writes_no_access_line_of_its_own_once_the_gateway_is_installed(settings):
    from hayhooks import create_app

    app = create_app()  # Hayhooks hands `uvicorn.access` to loguru here
    assert logging.getLogger("uvicorn.access").hasHandlers()
    install_gateway(app, with_sections(settings, auth={"mode": "dev"}, cache={"backend": "off"}))
    # uvicorn's HTTP protocols write their access line when, and only when, this logger has a handler.
    assert not logging.getLogger("uvicorn.access").hasHandlers()


def test_the_access_line_names_the_worker_process_that_served_the_request():
    line = observability.record(RequestContext("r1", "GET", "/v1/models"), "/v1/models", 200, [], log=False)
    assert line["worker"] == os.getpid()  # several workers per replica: which one served it
