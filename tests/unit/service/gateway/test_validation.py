import pytest
from gateway_testing import with_sections

pytestmark = pytest.mark.unit

CHAT = "/v1/chat/completions"


@pytest.fixture
def client(settings, client_for):
    return client_for(with_sections(settings, auth={"mode": "dev"}, request_limits={"max_body_bytes": 4096}))


def _user(text: str) -> dict:
    return {"role": "user", "content": text}


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (CHAT, b"{not json", 400, "not valid JSON"),
        (CHAT, b'{"model": "rag", "messages": [{"role": "user", "content": "\xff\xfe"}]}', 400, "not valid UTF-8"),
        (CHAT, b"[1, 2]", 422, "JSON object"),
        ("/rag/run", b'{"query": "\\udaad x"}', 400, "lone surrogate"),
        (CHAT, {"model": "rag", "messages": "hello"}, 422, "'messages' must be a list"),
        (CHAT, {"model": "rag", "messages": []}, 422, "'messages' is empty"),
        (CHAT, {"model": "rag", "messages": [_user("   ")]}, 422, "no user message"),
        (CHAT, {"model": "rag", "messages": [{"role": "robot", "content": "x"}]}, 422, "role must be one of"),
        (CHAT, {"model": "rag", "messages": [_user("x")] * 65}, 422, "Too many messages"),
        (CHAT, {"model": 3, "messages": [_user("x")]}, 422, "'model'"),
        (CHAT, {"model": "rag", "messages": [_user("x")], "max_tokens": 0}, 422, "between 1 and"),
        (CHAT, {"model": "rag", "messages": [_user("x")], "max_tokens": "many"}, 422, "integer"),
        (CHAT, {"model": "rag", "messages": [_user("x")], "top_k": 10_000}, 422, "'top_k'"),
        (CHAT, {"model": "rag", "messages": [_user("x")], "temperature": 9}, 422, "temperature"),
        (CHAT, {"model": "rag", "messages": [_user("x")], "stream": "yes"}, 422, "'stream'"),
        (
            CHAT,
            {
                "model": "rag",
                "messages": [_user("x")],
                "filters": {"field": "meta.password", "operator": "==", "value": 1},
            },
            422,
            "unknown filter field",
        ),
        ("/rag/run", {"query": ""}, 422, "'query' is empty"),
        ("/rag/run", {"query": 42}, 422, "must be a string"),
        ("/rag/run", {"filters": None}, 422, "'query' is missing"),
        ("/rag/run", {"query": "x" * 5000}, 413, "larger than 4096 bytes"),
        (CHAT, {"model": "rag", "messages": [_user("é" * 2100)]}, 413, "larger than"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client, path, body, status, message):
    if isinstance(body, bytes):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        response = client.post(path, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert response.json()["error"]["code"] == status


def test_message_too_long_is_413(settings, client_for):
    client = client_for(with_sections(settings, auth={"mode": "dev"}, request_limits={"max_message_chars": 10}))
    response = client.post(CHAT, json={"model": "rag", "messages": [_user("x" * 11)]})
    assert response.status_code == 413
    assert "too long" in response.json()["detail"]


def test_good_input_passes(client):
    assert client.post(CHAT, json={"model": "rag", "messages": [_user("Bonjour")], "max_tokens": 64}).status_code == 200
