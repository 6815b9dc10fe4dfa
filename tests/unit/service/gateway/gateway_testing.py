"""Test helpers: a small FastAPI app behind the real gateway; a JWKS served on 127.0.0.1 by an in-process server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.testclient import TestClient

from bench.security import TestIssuer
from components.retrievers.access_scope import scoped_filters
from service.gateway import install_gateway
from service.gateway.config import AuthSettings, JWTSettings
from service.settings import Settings

ISSUER = "https://sso.test/realms/btp"
AUDIENCE = "rag-service"


@pytest.fixture
def keys() -> Iterator[tuple[TestIssuer, str]]:
    """A test issuer (bench/security.py's, which counts its JWKS fetches) and its JWKS URL on 127.0.0.1."""
    issuer = TestIssuer(ISSUER, AUDIENCE).add_rsa("k1")
    with issuer.serve() as url:
        yield issuer, url


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
        allowed, filters = scoped_filters(body.get("filters"))  # what the graph's retrievers would apply
        return {"filters": filters, "allowed": allowed, "run": calls["n"]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        calls["n"] += 1
        return {"model": body["model"], "run": calls["n"]}

    @app.post("/upload/run")
    async def upload(request: Request) -> dict[str, Any]:
        form = await request.form()
        calls["n"] += 1
        return {"files": [f.filename for f in form.getlist("files")], "run": calls["n"]}

    @app.websocket("/askai/ws")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                question = await websocket.receive_json()
                calls["n"] += 1
                await websocket.send_json({"type": "done", "answer": question["question"], "run": calls["n"]})
        except WebSocketDisconnect:
            return

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
