"""`/health` (the process answers), `/ready` (each backend, checked now) and `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
import copy
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from components.retrievers.retrieval_report import BACKEND_STATUS
from service.gateway.context import current_principal
from service.gateway.observability import BACKEND_UP
from service.pipelines import embedded_vector_path

CHECK_TIMEOUT_SECONDS = 2.0


async def _http_ok(client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None) -> tuple[bool, str]:
    try:
        response = await client.get(url, headers=headers, timeout=CHECK_TIMEOUT_SECONDS)
    except httpx.HTTPError as e:
        return False, f"{type(e).__name__}: {e}"[:200]
    return response.status_code < 400, f"HTTP {response.status_code}"


def _file_ok(path: Path, what: str) -> tuple[bool, str]:
    if path.exists() and os.access(path, os.R_OK):
        return True, f"{what} at {path}"
    return False, f"{what} missing: {path} (run `rag index`)"


async def readiness(settings: Any, gateway: Any) -> tuple[int, dict[str, Any]]:
    """Check every backend concurrently. Ready (200) when a retrieval store and the default LLM answer."""
    data_dir = settings.resolve_path(settings.stores.data_dir)
    checks: dict[str, Any] = {}
    async with httpx.AsyncClient() as client:
        if settings.stores.mode == "embedded":
            vectors = embedded_vector_path(settings)
            checks["vector_store"] = asyncio.sleep(0, _file_ok(vectors, "Qdrant Edge store"))
            bm25_file = data_dir / f"bm25-{settings.stores.elasticsearch.index}" / "meta.json"
            checks["bm25_store"] = asyncio.sleep(0, _file_ok(bm25_file, "BM25 store"))
        else:
            qdrant_key = os.environ.get(settings.stores.qdrant.api_key_env)
            checks["vector_store"] = _http_ok(
                client,
                settings.stores.qdrant.url.rstrip("/") + "/readyz",
                {"api-key": qdrant_key} if qdrant_key else None,
            )
            checks["bm25_store"] = _http_ok(client, settings.stores.elasticsearch.hosts.split(",")[0].rstrip("/") + "/")
        if gateway.redis is not None:
            checks["redis"] = gateway.redis.ping()
        for name, backend in settings.models.llm.backends.items():
            key = os.environ.get(backend.api_key_env)
            checks[f"llm:{name}"] = _http_ok(
                client, backend.base_url.rstrip("/") + "/models", {"authorization": f"Bearer {key}"} if key else None
            )
        results = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
    report: dict[str, Any] = {}
    for name, (ok, detail) in results.items():
        report[name] = {"ok": ok, "detail": detail}
        BACKEND_UP.labels(name).set(1 if ok else 0)
    if gateway.redis is None:
        report["redis"] = {
            "ok": True,
            "detail": f"not used (cache: {settings.cache.backend}, rate_limit: {settings.rate_limit.backend})",
        }
    for backend, status in BACKEND_STATUS.items():
        if status.last_failure > status.last_success:
            report[f"retriever:{backend}"] = {"ok": False, "detail": f"last query failed: {status.last_error}"}
    retrieval_ok = report["vector_store"]["ok"] or report["bm25_store"]["ok"]
    llm_ok = report[f"llm:{settings.models.llm.default}"]["ok"]
    everything_ok = all(item["ok"] for item in report.values())
    state = "ready" if everything_ok else "degraded" if retrieval_ok and llm_ok else "unavailable"
    return (200 if retrieval_ok and llm_ok else 503), {"status": state, "backends": report}


class SharedProbe:
    """
    One readiness check for every caller: concurrent calls await the one in flight, and its result is reused for
    `max_age` seconds (a public route that probes every backend must not let a flood of requests probe them all).
    """

    def __init__(self, check: Callable[[], Awaitable[tuple[int, dict[str, Any]]]], max_age: float) -> None:
        self.check, self.max_age = check, max_age
        self._lock = asyncio.Lock()
        self._last: tuple[float, tuple[int, dict[str, Any]]] | None = None

    async def result(self) -> tuple[int, dict[str, Any]]:
        async with self._lock:
            if self._last is None or time.monotonic() - self._last[0] >= self.max_age:
                self._last = (time.monotonic(), await self.check())
            code, body = self._last[1]
            return code, copy.deepcopy(body)


def public_readiness(body: dict[str, Any]) -> dict[str, Any]:
    """What anyone may read of `/ready`: the status and each backend's up/down, no paths, URLs or errors."""
    return {"status": body["status"], "backends": {name: {"ok": b["ok"]} for name, b in body["backends"].items()}}


def metrics_payload() -> bytes:
    """Prometheus text; with PROMETHEUS_MULTIPROC_DIR set (several workers), every worker's metrics merged."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


def add_health_routes(app: FastAPI, settings: Any, gateway: Any) -> None:
    @app.get("/health", tags=["status"], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    probe = SharedProbe(lambda: readiness(settings, gateway), settings.server.ready_cache_seconds)

    @app.get("/ready", tags=["status"], summary="Readiness: each backend (stores, Redis, LLMs), checked now")
    async def ready() -> JSONResponse:
        code, body = await probe.result()
        principal = current_principal()
        if principal is None or not principal.roles & set(settings.auth.status_roles):
            body = public_readiness(body)
        return JSONResponse(body, status_code=code)

    @app.get("/metrics", tags=["status"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(metrics_payload(), media_type=CONTENT_TYPE_LATEST)

    # Routes match in order: ours go ahead of everything Hayhooks added.
    for _ in range(3):
        app.router.routes.insert(0, app.router.routes.pop())
