"""`rag index` handing its run to the running service: who the route accepts, what it answers, and a run done over
a real socket (uvicorn on 127.0.0.1, behind the real gateway in `auth.mode: required`) by the real `Indexer` and
`indexing` graph, with a hashing stand-in for the embedder (tests/unit/indexing/hashing_graph.py)."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indexing.index_files import _SHARED_INDEXERS, Indexer, IndexProgress, manifest_path
from service.gateway import install_gateway
from service.gateway.auth import hash_api_key
from service.gateway.config import AuthSettings
from service.index_handoff import (
    INDEX_ROUTE,
    HandOffError,
    add_index_route,
    index_through_service,
    is_local_caller,
    parse_index_request,
    refusal,
)
from service.local_service import TOKEN_ENV, TOKEN_HEADER, ServiceNotice
from tests.unit.indexing.hashing_graph import indexing_graph

pytestmark = pytest.mark.unit

TOKEN = "the-token-of-this-start"


@pytest.mark.parametrize(
    ("client", "server", "local"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.2", "0.0.0.0", True),
        ("::1", "::", True),
        ("::ffff:127.0.0.1", "::", True),
        ("10.1.2.3", "10.1.2.3", True),  # from the address the service is bound to: this machine
        ("10.1.2.4", "10.1.2.3", False),
        ("192.168.0.7", "0.0.0.0", False),
        ("testclient", "testserver", False),
        (None, "127.0.0.1", False),
    ],
)
def test_is_local_caller(client, server, local):
    assert is_local_caller(client, server) is local


def test_refusals():
    assert refusal("127.0.0.1", "127.0.0.1", TOKEN, TOKEN) is None
    assert refusal("127.0.0.1", "127.0.0.1", TOKEN, None)[0] == 503  # not started by `rag serve`: no token
    assert refusal("192.168.0.7", "0.0.0.0", TOKEN, TOKEN)[0] == 403
    status, message = refusal("127.0.0.1", "127.0.0.1", None, TOKEN)
    assert (status, TOKEN_HEADER in message) == (401, True)
    assert refusal("127.0.0.1", "127.0.0.1", "an-old-token", TOKEN)[0] == 403


def test_parse_index_request(tmp_path):
    (tmp_path / "a.md").write_text("# A\n", "utf-8")
    assert parse_index_request({"paths": [str(tmp_path)]}) == ([tmp_path.resolve()], False)
    assert parse_index_request({"paths": [str(tmp_path / "a.md")], "prune": True})[1] is True
    for body, reason in [
        ([], "JSON object"),
        ({"paths": []}, "non-empty list"),
        ({"paths": "a.md"}, "non-empty list"),
        ({"paths": [3]}, "non-empty list"),
        ({"paths": ["a.md"]}, "not an absolute path"),
        ({"paths": [str(tmp_path / "nope.md")]}, "No such file or folder"),
        ({"paths": [str(tmp_path)], "prune": "yes"}, "'prune'"),
        ({"paths": [str(tmp_path)], "files": []}, "Unknown fields: files"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_index_request(body)


def _app(settings, monkeypatch, token: str | None = TOKEN) -> FastAPI:
    if token is None:
        monkeypatch.delenv(TOKEN_ENV, raising=False)
    else:
        monkeypatch.setenv(TOKEN_ENV, token)
    auth = AuthSettings(mode="required", api_keys=[{"name": "user", "sha256": hash_api_key("user-key")}])
    settings = settings.model_copy(update={"auth": auth})
    app = FastAPI()

    @app.post("/rag/run")
    async def rag_run() -> dict:
        return {"ok": True}

    install_gateway(app, settings)
    add_index_route(app, settings)
    return app


@pytest.fixture
def indexer(settings) -> Iterator[Indexer]:
    """The process's shared indexer for this data folder, on the hashing graph."""
    shared = Indexer(settings, indexing_graph(settings))
    _SHARED_INDEXERS[manifest_path(settings)] = shared
    yield shared
    _SHARED_INDEXERS.pop(manifest_path(settings), None)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "z9917.md").write_text("# Marché Z9917\nRéparation du pont de la Sèvre : 1 245 000 € HT.\n", "utf-8")
    (root / "note.txt").write_text("Note de service sur la viabilité hivernale.\n", "utf-8")
    return root


@pytest.fixture
def served(settings, monkeypatch, indexer) -> Iterator[ServiceNotice]:
    """The app served by uvicorn on 127.0.0.1 (a real socket: the route sees a loopback peer)."""
    server = uvicorn.Server(uvicorn.Config(_app(settings, monkeypatch), host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline
        assert thread.is_alive()
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield ServiceNotice(pid=0, url=f"http://127.0.0.1:{port}", token=TOKEN)
    server.should_exit = True
    thread.join(timeout=30)


def test_a_run_handed_to_the_service_is_done_with_its_stores(served, indexer, corpus):
    events: list[IndexProgress] = []
    report = index_through_service(served, [corpus], prune=False, on_progress=events.append)
    assert sorted(report.added) == ["note.txt", "z9917.md"]
    assert report.chunks > 0
    assert events[0].total == 2
    assert events[-1].files == 2
    assert events[-1].chunks == report.chunks
    bm25 = indexer.pipeline.get_component("bm25_writer").document_store  # the service's own instance
    [chunk] = bm25.filter_documents({"field": "meta.source", "operator": "==", "value": "z9917.md"})
    assert chunk.meta["file_path"] == str(corpus / "z9917.md")  # the real path, not a copy
    again = index_through_service(served, [corpus], prune=False, on_progress=events.append)
    assert again.unchanged == 2


def test_the_service_refuses_a_wrong_token_and_bad_requests(served, corpus):
    with pytest.raises(HandOffError, match=r"refused the run \(403\): Wrong x-rag-local-token"):
        index_through_service(ServiceNotice(0, served.url, "another"), [corpus], False, lambda _: None)
    url = served.url + INDEX_ROUTE
    missing = httpx.post(url, json={"paths": [str(corpus)]})
    assert missing.status_code == 401
    assert TOKEN_HEADER in missing.json()["detail"]
    headers = {TOKEN_HEADER: TOKEN}
    assert httpx.post(url, content=b"{", headers=headers).status_code == 400
    relative = httpx.post(url, json={"paths": ["corpus"]}, headers=headers)
    assert (relative.status_code, "absolute" in relative.json()["detail"]) == (422, True)
    gone = httpx.post(url, json={"paths": [str(corpus / "nope")]}, headers=headers)
    assert (gone.status_code, "No such file" in gone.json()["detail"]) == (422, True)
    # The users' routes keep the gateway's authentication; the indexing route is not in the API description.
    assert httpx.post(served.url + "/rag/run", json={}).status_code == 401
    assert INDEX_ROUTE not in httpx.get(served.url + "/openapi.json", headers={"x-api-key": "user-key"}).text


def test_the_route_refuses_callers_from_another_machine(settings, monkeypatch, corpus):
    app = _app(settings, monkeypatch)
    with TestClient(app, client=("192.168.0.7", 50000)) as client:
        response = client.post(INDEX_ROUTE, json={"paths": [str(corpus)]}, headers={TOKEN_HEADER: TOKEN})
    assert response.status_code == 403
    assert "this machine only" in response.json()["detail"]


def test_a_service_not_started_by_rag_serve_takes_no_runs(settings, monkeypatch, corpus):
    app = _app(settings, monkeypatch, token=None)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        response = client.post(INDEX_ROUTE, json={"paths": [str(corpus)]}, headers={TOKEN_HEADER: TOKEN})
    assert response.status_code == 503


def test_a_service_that_is_gone_is_a_clear_error(corpus):
    with pytest.raises(HandOffError, match="lost the service"):
        index_through_service(ServiceNotice(0, "http://127.0.0.1:9", TOKEN), [corpus], False, lambda _: None)
