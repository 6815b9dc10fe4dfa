"""The service's own routes (/v1/models, /v1/chat/completions, /askai) on the real graphs with fake models."""

import json
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from haystack import Pipeline

import service.pipelines
from service.askai import add_askai_routes, combined_filters
from service.openai_chat import MODE_HEADER, add_openai_routes, deployed_graphs, ended_stream
from service.pipelines import ALLOWED_MODULES, bound_definition
from tests.unit.service.test_answering import (
    PASSAGES,
    FakeChatGenerator,
    FakeDenseRetriever,
    FakeQueryEmbedder,
    FakeRanker,
    ScriptedChatGenerator,
)

pytestmark = pytest.mark.unit

THINKING_REPLY = ["Le passage [1] dit 3 mois.</thinking>", "<answer>Le délai est de 3 mois [1].</answer>"]


class Registry:
    def __init__(self, wrappers: dict) -> None:
        self.wrappers = wrappers

    def get(self, name: str):
        return self.wrappers.get(name)


def wrappers(rag: Pipeline, chat: Pipeline) -> Registry:
    """Hayhooks' registry of the deployed `rag` and `chat` wrappers, each holding its own graph."""
    return Registry({"rag": SimpleNamespace(pipeline=rag), "chat": SimpleNamespace(pipeline=chat)})


@pytest.fixture
def make_client(settings):
    def make(llm=None, chat_llm=None) -> TestClient:
        fakes = {
            "query_embedder": FakeQueryEmbedder(),
            "dense_retriever": FakeDenseRetriever(),
            "ranker": FakeRanker(PASSAGES),
            "llm": llm or ScriptedChatGenerator(THINKING_REPLY),
        }
        rag = Pipeline.from_dict(bound_definition("rag", settings), allowed_modules=ALLOWED_MODULES, components=fakes)
        chat = Pipeline.from_dict(
            bound_definition("chat", settings),
            allowed_modules=ALLOWED_MODULES,
            components={"llm": chat_llm or FakeChatGenerator("Bonjour à vous.")},
        )
        app = FastAPI()
        add_openai_routes(app, settings)
        add_askai_routes(app, settings)
        app.state.pipeline_registry = wrappers(rag, chat)
        return TestClient(app)

    return make


def test_each_wrapper_gives_its_own_graph_and_the_service_its_rewriter(monkeypatch):
    rag, chat, rewriter = Pipeline(), Pipeline(), Pipeline()
    monkeypatch.setattr(service.pipelines, "_SERVICE_PIPELINES", {"question_rewrite": rewriter})
    app = FastAPI()
    app.state.pipeline_registry = wrappers(rag, chat)
    graphs = deployed_graphs(app)
    assert graphs.rag is rag
    assert graphs.chat is chat
    assert graphs.rewriter is rewriter
    app.state.pipeline_registry = Registry({"rag": SimpleNamespace(pipeline=rag)})  # `chat` not deployed
    assert deployed_graphs(app).chat is None


def _ask(question: str = "Quel est le délai du lot 2 ?", **body) -> dict:
    return {"model": "rag", "messages": [{"role": "user", "content": question}], **body}


def test_models_are_the_graphs_and_the_backends(make_client, settings):
    ids = [m["id"] for m in make_client().get("/v1/models").json()["data"]]
    assert ids == ["rag", "chat", "rag-thinking", "chat-thinking", *settings.models.llm.backends]


def test_unknown_model_is_a_404(make_client):
    response = make_client().post("/v1/chat/completions", json={**_ask(), "model": "gpt-17"})
    assert response.status_code == 404
    assert "gpt-17" in response.json()["detail"]


@pytest.mark.parametrize("body", [[1], {"model": "rag", "messages": "x"}, {"model": "rag", "messages": []}])
def test_readable_bodies_with_wrong_fields_are_a_422(make_client, body):
    response = make_client().post("/v1/chat/completions", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_a_body_that_is_not_json_is_a_400(make_client):
    response = make_client().post(
        "/v1/chat/completions", content=b"{model: rag", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_completion_with_thinking(make_client):
    response = make_client().post("/v1/chat/completions", json=_ask(enable_thinking=True))
    assert response.status_code == 200
    assert response.headers[MODE_HEADER] == "rag"
    body = response.json()
    message = body["choices"][0]["message"]
    assert message["reasoning_content"] == "Le passage [1] dit 3 mois."
    assert message["content"].startswith("Le délai est de 3 mois [1].\n\n---\n**Sources**")
    assert [s["cited"] for s in body["sources"]] == [True, False]
    assert body["mode"] == "rag"


def test_streamed_completion_sends_reasoning_then_content_then_sources(make_client):
    with make_client().stream("POST", "/v1/chat/completions", json=_ask(stream=True, enable_thinking=True)) as r:
        assert r.headers[MODE_HEADER] == "rag"
        chunks = _sse(r)
    deltas = [c["choices"][0]["delta"] for c in chunks if c.get("choices")]
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    content = "".join(d.get("content") or "" for d in deltas)
    assert reasoning == "Le passage [1] dit 3 mois."
    assert content.startswith("Le délai est de 3 mois [1].")
    assert "think" not in content
    first_content = next(i for i, d in enumerate(deltas) if d.get("content"))
    assert all(not d.get("content") for d in deltas[:first_content])
    assert [c["event"]["type"] for c in chunks if "event" in c] == ["source", "source"]
    assert next(c for c in chunks if "sources" in c)["sources"][0]["number"] == 1


def _sse(response) -> list[dict]:
    """The JSON chunks of an OpenAI stream, which must end with `data: [DONE]` and nothing after it."""
    lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]", lines[-3:]
    return [json.loads(line) for line in lines[:-1]]


def test_a_stream_ends_with_stop_then_done(make_client):
    with make_client().stream("POST", "/v1/chat/completions", json=_ask(stream=True)) as r:
        chunks = _sse(r)
    reasons = [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices")]
    assert reasons[-1] == "stop"
    assert reasons.count("stop") == 1


def test_a_stream_whose_llm_dies_says_it_did_not_complete(make_client):
    client = make_client(llm=FakeChatGenerator(error=ConnectionError("refused")))
    with client.stream("POST", "/v1/chat/completions", json=_ask(stream=True)) as r:
        assert r.status_code == 200  # the headers went out before the LLM was called
        chunks = _sse(r)
    reasons = [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices")]
    assert reasons[-1] == "error"
    assert "stop" not in reasons
    assert any("service_error" in c for c in chunks)


async def test_a_stream_that_breaks_after_its_headers_ends_with_an_error_and_done():
    async def breaking():
        yield "data: {}\n\n"
        raise RuntimeError("the graph broke")

    parts = [part async for part in ended_stream(breaking(), "rag-1", "rag")]
    assert parts[0] == "data: {}\n\n"
    error = json.loads(parts[1].removeprefix("data: "))["error"]
    assert "RuntimeError" in error["message"]
    assert json.loads(parts[2].removeprefix("data: "))["choices"][0]["finish_reason"] == "error"
    assert parts[3] == "data: [DONE]\n\n"


def test_use_rag_false_answers_in_chat_mode(make_client):
    client = make_client()
    response = client.post("/v1/chat/completions", json=_ask("Bonjour"), headers={"x-use-rag": "false"})
    assert response.headers[MODE_HEADER] == "chat"
    assert response.json()["choices"][0]["message"]["content"] == "Bonjour à vous."
    assert client.post("/v1/chat/completions", json={**_ask(), "model": "chat"}).json()["mode"] == "chat"


def test_dead_llm_is_a_503_with_the_sources(make_client):
    client = make_client(llm=FakeChatGenerator(error=ConnectionError("refused")))
    response = client.post("/v1/chat/completions", json=_ask())
    assert response.status_code == 503
    assert len(response.json()["detail"]["sources"]) == 2
    response = client.post("/askai/query", json={"question": "Délai ?"})
    assert response.status_code == 503
    assert "ne répond pas" in response.json()["detail"]["message"]


def test_askai_query(make_client):
    response = make_client().post("/askai/query", json={"question": "Délai du lot 2 ?", "enable_thinking": True})
    assert response.status_code == 200
    body = response.json()
    assert (body["answer"], body["thinking"], body["mode"]) == (
        "Le délai est de 3 mois [1].",
        "Le passage [1] dit 3 mois.",
        "rag",
    )
    assert body["sources"][0]["text"] == PASSAGES[0].content  # generation.include_passage_text


@pytest.mark.parametrize(
    ("body", "status"), [({"question": ""}, 422), ({}, 422), ({"question": "Q ?", "use_rag": "peut-être"}, 422)]
)
def test_askai_query_bad_fields_are_a_422(make_client, body, status):
    assert make_client().post("/askai/query", json=body).status_code == status


def test_askai_query_unknown_model_is_a_404(make_client):
    response = make_client().post("/askai/query", json={"question": "Q ?", "model": "nope"})
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_unknown_prompt_type_is_a_422_naming_the_known_ones(make_client):
    client = make_client()
    asked = client.post("/askai/query", json={"question": "Délai du lot 2 ?", "prompt_type": "n.\x95"})
    completion = client.post("/v1/chat/completions", json=_ask(prompt_type="poeme"))
    for response in (asked, completion):
        assert response.status_code == 422
        assert "prompt_type" in response.json()["detail"]
        assert "summary" in response.json()["detail"]
    known = client.post("/askai/query", json={"question": "Délai du lot 2 ?", "prompt_type": "summary"})
    assert known.status_code == 200


def test_askai_websocket_event_order(make_client):
    with make_client().websocket_connect("/askai/ws") as socket:
        socket.send_json({"question": "Délai du lot 2 ?", "enable_thinking": True, "theme": "voirie"})
        events = []
        while not events or events[-1]["type"] != "done":
            events.append(socket.receive_json())
    types = [e["type"] for e in events]
    assert types[0] == "context"
    assert types.index("thinking") < types.index("response")
    assert types[-1] == "done"
    assert "error" not in types
    assert events[-1]["answer"] == "Le délai est de 3 mois [1]."
    assert events[0]["sources"][0]["number"] == 1


def test_askai_websocket_bad_request_then_error_and_done(make_client):
    with make_client().websocket_connect("/askai/ws") as socket:
        socket.send_json({"question": ""})
        assert socket.receive_json()["type"] == "error"
        assert socket.receive_json()["type"] == "done"


def test_askai_websocket_llm_down_sends_context_error_done(make_client):
    with make_client(llm=FakeChatGenerator(error=TimeoutError())).websocket_connect("/askai/ws") as socket:
        socket.send_json({"question": "Délai ?"})
        types = [socket.receive_json()["type"] for _ in range(3)]
    assert types == ["context", "error", "done"]


def test_combined_filters():
    theme = {"field": "meta.theme", "operator": "==", "value": "voirie"}
    other = {"field": "meta.code_affaire", "operator": "==", "value": "A2458"}
    assert combined_filters(None, None) is None
    assert combined_filters("voirie", None) == theme
    assert combined_filters("voirie", other) == {"operator": "AND", "conditions": [theme, other]}


@pytest.mark.parametrize(
    ("route", "body", "streamed"),
    [
        ("/v1/chat/completions", _ask(), False),
        ("/v1/chat/completions", _ask(stream=True), True),
        ("/v1/chat/completions", _ask(use_rag=False), False),
        ("/askai/query", {"question": "Quel est le délai du lot 2 ?"}, False),
    ],
)
def test_the_llm_streams_only_to_clients_that_stream(make_client, route, body, streamed):
    rag_llm, chat_llm = ScriptedChatGenerator(THINKING_REPLY), FakeChatGenerator("Bonjour à vous.")
    response = make_client(llm=rag_llm, chat_llm=chat_llm).post(route, json=body)
    assert response.status_code == 200
    calls = rag_llm.calls + chat_llm.calls
    assert [c["streamed"] for c in calls] == [streamed]


def test_the_websocket_streams_tokens(make_client):
    rag_llm = ScriptedChatGenerator(THINKING_REPLY)
    with make_client(llm=rag_llm).websocket_connect("/askai/ws") as socket:
        socket.send_json({"question": "Quel est le délai du lot 2 ?", "enable_thinking": True})
        events = []
        while not events or events[-1]["type"] != "done":
            events.append(socket.receive_json())
    assert "response" in {e["type"] for e in events}
    assert rag_llm.calls[0]["streamed"] is True
