"""One gate for every route and every caller: filters the stores cannot apply, origins, sockets, uploads, addresses."""

import asyncio
import time

import pytest
from fastapi.testclient import TestClient
from gateway_testing import jwt_auth, with_sections
from hayhooks import create_app
from hayhooks.settings import settings as hayhooks_settings
from starlette.websockets import WebSocketDisconnect

from service.gateway.health import SharedProbe
from service.server import configure_hayhooks

pytestmark = pytest.mark.unit

QUESTION = "Quel est le délai ?"


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def users(settings, keys, client_for):
    """A JWT-protected gateway: (client, issuer)."""
    issuer, url = keys
    return client_for(with_sections(settings, auth=jwt_auth(url))), issuer


@pytest.mark.parametrize(
    ("condition", "named"),
    [
        ({"field": "meta.lot", "operator": "==", "value": None}, "meta.lot =="),
        ({"field": "meta.date", "operator": ">", "value": "abc"}, "meta.date >"),
        ({"field": "meta.date", "operator": "<=", "value": True}, "meta.date <="),
    ],
)
@pytest.mark.parametrize("path", ["/rag/run", "/v1/chat/completions"])
def test_a_filter_no_store_can_apply_is_a_422_naming_field_and_operator(users, condition, named, path):
    client, issuer = users
    filters = {"operator": "AND", "conditions": [{"field": "meta.lot", "operator": "==", "value": "2"}, condition]}
    if path == "/rag/run":
        body = {"query": QUESTION, "filters": filters}
    else:
        body = {"model": "rag", "stream": True, "messages": [{"role": "user", "content": QUESTION}], "filters": filters}
    response = client.post(path, json=body, headers=_bearer(issuer.token()))
    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert client.app.state.calls["n"] == 0  # refused before any graph ran


def test_a_filter_every_store_applies_passes(users):
    client, issuer = users
    filters = {"field": "meta.date", "operator": ">=", "value": "2025-03-31"}
    response = client.post("/rag/run", json={"query": QUESTION, "filters": filters}, headers=_bearer(issuer.token()))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_routes_take_application_json_only(users, content_type):
    """A page of another site can POST text/plain without a CORS preflight: it gets a 415, not an answer."""
    client, issuer = users
    headers = _bearer(issuer.token()) | ({"content-type": content_type} if content_type else {})
    response = client.post("/rag/run", content=b'{"query": "Quel est le delai ?"}', headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert client.app.state.calls["n"] == 0


def test_a_post_without_a_body_needs_no_content_type(users):
    """`curl -X POST …/reindex` sends no body: nothing to refuse as the wrong type (the route decides)."""
    client, issuer = users
    response = client.post("/rag/run", headers=_bearer(issuer.token()))
    assert response.status_code == 400  # the question route wants its JSON body: unreadable, not a 415
    assert "JSON" in response.json()["detail"]


def _hayhooks_app(monkeypatch, settings, origins):
    for name in ("cors_allow_origins", "cors_allow_credentials", "cors_allow_methods", "cors_allow_headers"):
        monkeypatch.setattr(hayhooks_settings, name, getattr(hayhooks_settings, name))  # restored after the test
    server = settings.server.model_copy(
        update={"cors": settings.server.cors.model_copy(update={"allow_origins": origins})}
    )
    configure_hayhooks(settings.model_copy(update={"server": server}))
    return create_app()


def _preflight(client, origin):
    return client.options(
        "/v1/chat/completions",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization",
        },
    )


def test_no_origin_is_allowed_cross_origin_by_default(monkeypatch, settings):
    assert settings.server.cors.allow_origins == []
    with TestClient(_hayhooks_app(monkeypatch, settings, [])) as client:
        response = _preflight(client, "https://evil.example")
    assert "access-control-allow-origin" not in response.headers


def test_a_listed_origin_is_allowed_and_only_it(monkeypatch, settings):
    with TestClient(_hayhooks_app(monkeypatch, settings, ["https://chat.btp.fr"])) as client:
        allowed = _preflight(client, "https://chat.btp.fr")
        other = _preflight(client, "https://evil.example")
    assert allowed.headers["access-control-allow-origin"] == "https://chat.btp.fr"
    assert "access-control-allow-origin" not in other.headers


def _socket(client, issuer, **headers):
    return client.websocket_connect(f"/askai/ws?access_token={issuer.token()}", headers=headers)


def test_a_socket_from_another_origin_is_closed_and_its_own_origin_accepted(users):
    client, issuer = users
    with pytest.raises(WebSocketDisconnect) as closed, _socket(client, issuer, origin="https://evil.example") as ws:
        ws.receive_json()
    assert closed.value.code == 1008
    with _socket(client, issuer, origin="http://testserver") as ws:
        ws.send_json({"question": QUESTION})
        assert ws.receive_json()["answer"] == QUESTION


@pytest.mark.parametrize(
    ("message", "status", "says"),
    [
        (
            {"question": QUESTION, "filters": {"field": "meta.file_path", "operator": "==", "value": "/etc"}},
            422,
            "meta.file_path",
        ),
        ({"question": QUESTION, "filters": {"field": "meta.lot", "operator": "==", "value": None}}, 422, "meta.lot =="),
        ({"question": QUESTION, "history": [{"role": "user", "content": "x"}] * 65}, 422, "history"),
        ({"question": QUESTION, "history": [{"role": "user", "content": "x" * 16_001}]}, 413, "history[0]"),
        ({"question": "x" * 16_001}, 413, "question"),
        ({"theme": "voirie"}, 422, "question"),
    ],
)
def test_each_socket_message_is_validated_like_a_request(users, message, status, says):
    client, issuer = users
    with _socket(client, issuer) as ws:
        ws.send_json(message)
        error = ws.receive_json()
        assert (error["type"], error["status"]) == ("error", status)
        assert says in error["message"]
        assert ws.receive_json() == {"type": "done"}
        ws.send_json({"question": QUESTION})  # the socket stays usable
        assert ws.receive_json()["answer"] == QUESTION
    assert client.app.state.calls["n"] == 1


def test_each_socket_message_counts_against_the_rate_limit(settings, keys, client_for):
    issuer, url = keys
    client = client_for(with_sections(settings, auth=jwt_auth(url), rate_limit={"requests_per_minute": 3}))
    with _socket(client, issuer) as ws:
        replies = []
        for _ in range(4):
            ws.send_json({"question": QUESTION})
            replies.append(ws.receive_json())
            if replies[-1].get("status"):
                assert ws.receive_json() == {"type": "done"}
    assert [r.get("status") for r in replies] == [None, None, None, 429]  # one socket, not unlimited LLM runs
    assert client.app.state.calls["n"] == 3


def test_a_socket_closes_when_its_token_expires(users):
    client, issuer = users
    token = issuer.token(exp=int(time.time()) + 2)
    with client.websocket_connect(f"/askai/ws?access_token={token}") as ws:
        ws.send_json({"question": QUESTION})
        assert ws.receive_json()["answer"] == QUESTION
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()  # nothing sent: the gateway closes the socket when the token runs out
    assert closed.value.code == 1008


def test_refused_authentications_and_public_requests_are_limited_per_address(settings, keys, client_for):
    issuer, url = keys
    client = client_for(with_sections(settings, auth=jwt_auth(url), rate_limit={"unauthenticated_per_minute": 3}))
    bad = [client.post("/rag/run", json={"query": QUESTION}, headers=_bearer("wrong")).status_code for _ in range(3)]
    assert bad == [401, 401, 401]
    # past the limit, the address is refused before its credentials are read: a good token is no way around it
    late = client.post("/rag/run", json={"query": QUESTION}, headers=_bearer(issuer.token()))
    assert late.status_code == 429
    assert "retry-after" in late.headers
    public = client_for(with_sections(settings, auth=jwt_auth(url), rate_limit={"unauthenticated_per_minute": 3}))
    assert [public.get("/health").status_code for _ in range(4)] == [200, 200, 200, 429]


def _files(*names: str, size: int = 10):
    return [("files", (name, b"x" * size, "text/markdown")) for name in names]


def test_uploading_needs_the_upload_role(users):
    client, issuer = users
    reader = _bearer(issuer.token(realm_access={"roles": ["lecteur"]}))
    uploader = _bearer(issuer.token(realm_access={"roles": ["uploader"]}))
    refused = client.post("/upload/run", files=_files("note.md"), headers=reader)
    assert refused.status_code == 403
    assert "'uploader' role" in refused.json()["detail"]
    assert client.post("/upload/run", files=_files("note.md"), headers=uploader).json()["files"] == ["note.md"]


def test_the_upload_route_has_its_own_size_limit_and_takes_multipart_only(users):
    client, issuer = users
    uploader = _bearer(issuer.token(realm_access={"roles": ["uploader"]}))
    big = client.post("/upload/run", files=_files("plan.pdf", size=1_000_000), headers=uploader)
    assert big.status_code == 200  # past the 256 KiB of a JSON body: an ordinary PDF
    as_json = client.post("/upload/run", json={"files": ["x"]}, headers=uploader)
    assert as_json.status_code == 415
    small_limit = with_sections(client.app.state.gateway.settings, request_limits={"max_upload_bytes": 100_000})
    client.app.state.gateway.settings = small_limit
    too_big = client.post("/upload/run", files=_files("plan.pdf", size=200_000), headers=uploader)
    assert too_big.status_code == 413


async def test_ready_probes_once_for_concurrent_callers_and_reuses_its_result():
    calls = []

    async def check():
        calls.append(time.monotonic())
        await asyncio.sleep(0.05)
        return 200, {"status": "ready", "backends": {}}

    probe = SharedProbe(check, max_age=0.3)
    results = await asyncio.gather(*(probe.result() for _ in range(20)))
    assert len(calls) == 1
    assert all(r == (200, {"status": "ready", "backends": {}}) for r in results)
    await asyncio.sleep(0.35)
    await probe.result()
    assert len(calls) == 2
