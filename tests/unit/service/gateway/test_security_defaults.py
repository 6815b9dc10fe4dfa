"""What the service tells and serves to callers it does not know: public routes, admin routes, oversized input."""

import pytest
from fastapi.testclient import TestClient
from gateway_testing import jwt_auth, with_sections
from hayhooks import create_app

from service.server import remove_admin_routes

pytestmark = pytest.mark.unit

QUESTION = {"query": "Quel est le délai ?"}


@pytest.fixture
def client(settings, keys, client_for):
    _, url = keys
    return client_for(with_sections(settings, auth=jwt_auth(url, status_roles=["admin"])))


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_ready_without_credentials_names_no_path_url_or_error(client, settings):
    response = client.get("/ready")  # the backends are not running here: each one is down, with a reason
    backends = response.json()["backends"]
    assert set(backends["vector_store"]) == {"ok"}
    assert all(set(b) == {"ok"} for b in backends.values())
    assert str(settings.stores.data_dir) not in response.text
    assert "http" not in response.text


def test_ready_gives_details_to_a_status_role_only(client, keys):
    key_set, _ = keys
    as_admin = client.get("/ready", headers=_bearer(key_set.token(realm_access={"roles": ["admin"]}))).json()
    as_user = client.get("/ready", headers=_bearer(key_set.token(realm_access={"roles": ["lecteur"]}))).json()
    assert all("detail" in b for b in as_admin["backends"].values())
    assert all(set(b) == {"ok"} for b in as_user["backends"].values())
    bad_credentials = client.get("/ready", headers=_bearer("not-a-key"))
    assert bad_credentials.status_code != 401  # a public route: bad credentials are no credentials
    assert all(set(b) == {"ok"} for b in bad_credentials.json()["backends"].values())


def test_an_oversized_token_is_refused_unparsed(client, keys):
    key_set, _ = keys
    signed = key_set.token(padding="x" * 7000)  # a valid signature, ~10 KB
    response = client.post("/rag/run", json=QUESTION, headers=_bearer(signed))
    assert response.status_code == 401
    assert "larger than 8192 bytes" in response.json()["detail"]


def test_oversized_headers_get_431_on_public_and_private_routes(client, keys):
    key_set, _ = keys
    padding = {"x-padding": "y" * 20_000}
    assert client.get("/health", headers=padding).status_code == 431
    response = client.post("/rag/run", json=QUESTION, headers={**_bearer(key_set.token()), **padding})
    assert response.status_code == 431
    assert "16384 bytes" in response.json()["detail"]


def test_hayhooks_admin_routes_are_not_served_nor_listed():
    app = create_app()
    remove_admin_routes(app)
    with TestClient(app) as client:
        assert client.post("/undeploy/rag").status_code == 404
        assert client.post("/deploy_files", json={"name": "x", "files": {}}).status_code == 404
        assert client.post("/deploy-yaml", json={"name": "x", "source_code": ""}).status_code == 404
        paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/deploy", "/undeploy"))]
    assert "/v1/chat/completions" in paths  # the rest is served
