"""Test helpers: a small FastAPI app behind the real gateway; a JWKS served on 127.0.0.1 by an in-process server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from service.gateway import install_gateway
from service.gateway.access import effective_filters
from service.gateway.config import AuthSettings, JWTSettings
from service.settings import Settings

ISSUER = "https://sso.test/realms/btp"
AUDIENCE = "rag-service"


class KeySet:
    """Signing keys generated for the test; `jwks` is what the issuer publishes."""

    def __init__(self) -> None:
        self.private: dict[str, Any] = {}
        self.published: list[str] = []

    def add_rsa(self, kid: str, publish: bool = True) -> None:
        self.private[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def add_ec(self, kid: str) -> None:
        self.private[kid] = ec.generate_private_key(ec.SECP256R1())
        self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.published:
            key = self.private[kid]
            if isinstance(key, rsa.RSAPrivateKey):
                jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
                jwk["alg"] = "RS256"
            else:
                jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
                jwk["alg"] = "ES256"
            keys.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": keys}

    def token(self, kid: str = "k1", *, key_of: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "iat": now, "exp": now + 300, **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        key = self.private[key_of or kid]
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def keys() -> Iterator[tuple[KeySet, str, list[int]]]:
    """A key set and the URL of its JWKS (a real HTTP server on 127.0.0.1); the list counts JWKS fetches."""
    key_set = KeySet()
    key_set.add_rsa("k1")
    fetches = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches[0] += 1
            body = json.dumps(key_set.jwks()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield key_set, f"http://127.0.0.1:{server.server_address[1]}/certs", fetches
    server.shutdown()
    server.server_close()


def with_sections(settings: Settings, **sections: Any) -> Settings:
    """`settings` with some gateway sections replaced (each a dict of the section's keys)."""
    update = {}
    for name, values in sections.items():
        current = getattr(settings, name)
        update[name] = type(current).model_validate({**current.model_dump(), **values})
    return settings.model_copy(update=update)


def jwt_auth(jwks_url: str, **extra: Any) -> dict[str, Any]:
    return AuthSettings(
        mode="required",
        jwt=JWTSettings(jwks_url=jwks_url, issuer=ISSUER, audience=AUDIENCE, jwks_refresh_cooldown_seconds=0),
        **extra,
    ).model_dump()


def build_app(settings: Settings) -> FastAPI:
    """Stand-ins for the pipelines' routes: they echo what the graph would be given."""
    app = FastAPI()
    calls = {"n": 0}

    @app.post("/rag/run")
    async def rag_run(request: Request) -> dict[str, Any]:
        body = await request.json()
        calls["n"] += 1
        return {"filters": effective_filters(body.get("filters")), "run": calls["n"]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        calls["n"] += 1
        return {"model": body["model"], "run": calls["n"]}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"data": []}

    @app.post("/deploy_files")
    async def deploy() -> dict[str, str]:
        return {"ok": "deployed"}

    install_gateway(app, settings)
    app.state.calls = calls
    return app


@pytest.fixture
def client_for() -> Iterator[Callable[[Settings], TestClient]]:
    clients: list[TestClient] = []

    def make(settings: Settings) -> TestClient:
        client = TestClient(build_app(settings), raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
