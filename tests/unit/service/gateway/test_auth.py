import base64
import json

import pytest
from gateway_testing import jwt_auth, with_sections

from service.gateway.auth import hash_api_key

pytestmark = pytest.mark.unit

QUESTION = {"query": "Quel est le délai ?"}


@pytest.fixture
def client(settings, keys, client_for):
    _, url = keys
    api_key = {"name": "indexer-bot", "sha256": hash_api_key("s3cret-key"), "roles": ["service"]}
    return client_for(with_sections(settings, auth=jwt_auth(url, api_keys=[api_key])))


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_valid_rs256_token_passes(client, keys):
    key_set, _ = keys
    response = client.post("/rag/run", json=QUESTION, headers=_bearer(key_set.token(preferred_username="alice")))
    assert response.status_code == 200, response.text


def test_valid_es256_token_passes(client, keys):
    key_set, _ = keys
    key_set.add_ec("ec1")
    response = client.post("/rag/run", json=QUESTION, headers=_bearer(key_set.token("ec1")))
    assert response.status_code == 200, response.text


def test_no_token_is_401_with_www_authenticate(client):
    response = client.post("/rag/run", json=QUESTION)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "missing credentials" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/v1/models", "/metrics", "/v1/chat/completions", "/rag/run"])
def test_every_route_but_health_is_protected(client, path):
    assert client.request("POST" if "run" in path or "chat" in path else "GET", path, json={}).status_code == 401


def test_health_and_ready_are_public(client):
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code in {200, 503}


def test_expired_token_is_401(client, keys):
    key_set, _ = keys
    token = key_set.token(exp=1_000_000, iat=999_000)
    response = client.post("/rag/run", json=QUESTION, headers=_bearer(token))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_token_not_yet_valid_is_401(client, keys):
    key_set, _ = keys
    import time

    response = client.post("/rag/run", json=QUESTION, headers=_bearer(key_set.token(nbf=int(time.time()) + 3600)))
    assert response.status_code == 401


def test_wrong_audience_is_401(client, keys):
    key_set, _ = keys
    response = client.post("/rag/run", json=QUESTION, headers=_bearer(key_set.token(aud="another-service")))
    assert response.status_code == 401
    assert "audience" in response.json()["detail"]


def test_wrong_issuer_is_401(client, keys):
    key_set, _ = keys
    response = client.post("/rag/run", json=QUESTION, headers=_bearer(key_set.token(iss="https://evil.test")))
    assert response.status_code == 401


def test_wrong_key_is_401(client, keys):
    """Signed by a key the issuer never published, under a published kid."""
    key_set, _ = keys
    key_set.add_rsa("attacker", publish=False)
    response = client.post("/rag/run", json=QUESTION, headers=_bearer(key_set.token("k1", key_of="attacker")))
    assert response.status_code == 401
    assert "signature" in response.json()["detail"]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_401(client, keys):
    key_set, _ = keys
    _header, payload, _ = key_set.token(realm_access={"roles": ["admin"]}).split(".")
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{payload}."
    response = client.post("/rag/run", json=QUESTION, headers=_bearer(unsigned))
    assert response.status_code == 401


def test_forged_claim_is_401(client, keys):
    """A real token whose payload was edited (roles raised) keeps its old signature: rejected."""
    key_set, _ = keys
    header, payload, signature = key_set.token(realm_access={"roles": ["lecteur"]}).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["realm_access"]["roles"] = ["admin"]
    response = client.post("/rag/run", json=QUESTION, headers=_bearer(f"{header}.{_b64(claims)}.{signature}"))
    assert response.status_code == 401


def test_unknown_kid_refreshes_the_jwks_once(client, keys):
    key_set, _ = keys
    assert client.post("/rag/run", json=QUESTION, headers=_bearer(key_set.token())).status_code == 200
    assert client.post("/rag/run", json=QUESTION, headers=_bearer(key_set.token())).status_code == 200
    assert key_set.fetches == 1  # cached
    key_set.add_rsa("k2")  # key rotation at the issuer
    assert client.post("/rag/run", json=QUESTION, headers=_bearer(key_set.token("k2"))).status_code == 200
    assert key_set.fetches == 2


def test_api_key_passes_and_wrong_key_is_401(client):
    assert client.post("/rag/run", json=QUESTION, headers={"x-api-key": "s3cret-key"}).status_code == 200
    assert client.post("/rag/run", json=QUESTION, headers=_bearer("s3cret-key")).status_code == 200
    assert client.post("/rag/run", json=QUESTION, headers={"x-api-key": "guess"}).status_code == 401


def test_api_keys_are_stored_hashed(settings, keys):
    _, url = keys
    with pytest.raises(ValueError, match="sha256"):
        with_sections(settings, auth=jwt_auth(url, api_keys=[{"name": "x", "sha256": "s3cret-key"}]))


def test_deploy_routes_need_the_admin_role(client, keys):
    key_set, _ = keys
    plain = _bearer(key_set.token(realm_access={"roles": ["lecteur"]}))
    admin = _bearer(key_set.token(realm_access={"roles": ["admin"]}))
    assert client.post("/deploy_files", headers=plain).status_code == 403
    assert client.post("/deploy_files", headers=admin).status_code == 200


def test_no_matching_access_rule_is_403(settings, keys, client_for):
    key_set, url = keys
    access = {"rules": [{"name": "staff", "roles": ["staff"], "filters": None}]}
    client = client_for(with_sections(settings, auth=jwt_auth(url), access=access))
    assert client.post("/rag/run", json=QUESTION, headers=_bearer(key_set.token())).status_code == 403
    staff = _bearer(key_set.token(realm_access={"roles": ["staff"]}))
    assert client.post("/rag/run", json=QUESTION, headers=staff).status_code == 200


def test_dev_mode_needs_no_credentials_and_warns(settings, client_for, caplog):
    client = client_for(with_sections(settings, auth={"mode": "dev"}))
    assert "AUTHENTICATION IS OFF" in caplog.text
    assert client.post("/rag/run", json=QUESTION).status_code == 200


def test_required_mode_without_credentials_is_a_config_error(settings):
    with pytest.raises(ValueError, match=r"needs auth\.jwt or auth\.api_keys"):
        with_sections(settings, auth={"mode": "required"})


def test_websockets_need_credentials_too(settings, client_for):
    from fastapi import WebSocket
    from starlette.websockets import WebSocketDisconnect

    client = client_for(
        with_sections(
            settings, auth={"mode": "required", "api_keys": [{"name": "bot", "sha256": hash_api_key("ws-key")}]}
        )
    )

    @client.app.websocket("/askai/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    client.app.router.routes.insert(0, client.app.router.routes.pop())
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/askai/ws") as socket:
        socket.receive_text()
    assert refused.value.code == 1008
    with client.websocket_connect("/askai/ws?access_token=ws-key") as socket:
        assert socket.receive_text() == "hello"
