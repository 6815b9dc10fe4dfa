"""
The gateway against real servers: `rag serve` with auth on, the real Redis killed and restarted mid-run, the BM25
server (Elasticsearch) taken down and brought back mid-run, the real local vLLM answering.

Redis: scripts/start_redis.sh and scripts/stop_redis.sh, as an operator would. Elasticsearch: the service reaches it
through its own copy of the 8.x compatibility proxy (tests/servers/es_compat_proxy.py), which the test kills and
restarts, because the Elasticsearch JVM on this machine is shared with other work; with RAG_TEST_RESTART_ES=1 the
test stops and restarts the real server with scripts/stop_elasticsearch.sh / start_elasticsearch.sh instead.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from service.gateway.auth import hash_api_key
from tests.integration.conftest import PROJECT_ROOT, SAMPLE_CORPUS, RunningService, free_port, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPTS = PROJECT_ROOT / "scripts"
QDRANT_STORE = "haystack_integrations.document_stores.qdrant.document_store.QdrantDocumentStore"
QUESTION = "Quel est le montant de l'avenant n° 1 proposé à la commune de Bréchy ?"


def _script(name: str, **env: str) -> None:
    done = subprocess.run(["bash", str(SCRIPTS / name)], capture_output=True, text=True, check=False,
                          env={**os.environ, **env}, timeout=300)
    assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"


def _redis_up() -> bool:
    return subprocess.run(["redis-cli", "-p", "6379", "ping"], capture_output=True, text=True,
                          check=False).stdout.strip() == "PONG"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[str]:
    was_up = _redis_up()
    _script("start_redis.sh")
    yield "redis://127.0.0.1:6379/0"
    if not was_up:
        _script("stop_redis.sh")


def _chat(base_url: str, key: str, question: str, *, rag: bool, max_tokens: int = 8) -> httpx.Response:
    body = {"model": "rag", "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens,
            "use_rag": rag}
    return httpx.post(f"{base_url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"},
                      timeout=600)


class Background:
    """Requests fired continuously while the test breaks things; records every status."""

    def __init__(self, base_url: str, key: str) -> None:
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(base_url, key), daemon=True)
        self._thread.start()

    def _run(self, base_url: str, key: str) -> None:
        with httpx.Client(base_url=base_url, headers={"x-api-key": key}, timeout=60) as client:
            while not self._stop.is_set():
                try:
                    self.statuses.append(client.get("/v1/models").status_code)
                except httpx.HTTPError:
                    self.statuses.append(0)
                time.sleep(0.05)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.statuses


@pytest.fixture(scope="module")
def redis_running(local_llm: str, indexed_data_dir: Path, redis_server: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, str]]:
    """The service with the answer cache and the rate limits in the real Redis; returns (service, API key)."""
    key = secrets.token_urlsafe(24)
    tmp = tmp_path_factory.mktemp("gateway-redis")
    shutil.copytree(indexed_data_dir, tmp / "data")
    config = write_config(
        tmp / "hayhooks.yml",
        **{
            "stores/data_dir": str(tmp / "data"),
            "server/port": free_port(),
            "auth": {"mode": "required", "api_keys": [{"name": "tester", "sha256": hash_api_key(key)}]},
            "cache/backend": "redis",
            "rate_limit/backend": "redis",
            "rate_limit/requests_per_minute": 100_000,
            "redis/url": redis_server,
            "redis/retry_after_seconds": 1,
        },
    )
    running = RunningService(config, tmp / "serve.log")
    yield running, key
    running.stop()


@pytest.fixture(scope="module")
def redis_service(redis_running: tuple[RunningService, str]) -> tuple[str, str]:
    """(URL, API key) of `redis_running`."""
    running, key = redis_running
    return running.base_url, key


def test_killing_redis_mid_run_fails_no_request_and_it_recovers_without_restart(redis_service):
    base_url, key = redis_service
    question = f"Dis bonjour ({secrets.token_hex(4)})."
    first = _chat(base_url, key, question, rag=False)
    assert first.status_code == 200, first.text
    assert first.headers["x-cache"] == "miss"
    assert _chat(base_url, key, question, rag=False).headers["x-cache"] == "hit"  # from Redis

    background = Background(base_url, key)
    _script("stop_redis.sh")
    try:
        assert not _redis_up()
        during = [_chat(base_url, key, question, rag=False), _chat(base_url, key, f"{question} bis", rag=False)]
        assert [r.status_code for r in during] == [200, 200], [r.text for r in during]
        assert during[0].headers["x-cache"] == "miss"  # the cache is gone with Redis, the answer is not
        ready = httpx.get(f"{base_url}/ready", timeout=30).json()
        assert ready["backends"]["redis"]["ok"] is False
        assert ready["status"] in {"degraded", "unavailable"}
    finally:
        _script("start_redis.sh")
    time.sleep(1.5)  # redis.retry_after_seconds
    assert _chat(base_url, key, question, rag=False).headers["x-cache"] == "miss"  # a fresh, empty Redis
    assert _chat(base_url, key, question, rag=False).headers["x-cache"] == "hit"  # and it is used again
    assert httpx.get(f"{base_url}/ready", timeout=30).json()["backends"]["redis"]["ok"] is True
    statuses = background.stop()
    assert len(statuses) > 10
    assert set(statuses) == {200}, f"failed requests while Redis was down: {statuses}"


def test_query_embeddings_are_cached_in_the_real_redis_and_survive_it_going_down(redis_server):
    from haystack import Pipeline

    from service.pipelines import ALLOWED_MODULES, bound_definition
    from service.settings import load_settings

    settings = load_settings().model_copy(deep=True)
    settings.cache.backend = "redis"
    settings.redis.url = redis_server
    settings.redis.retry_after_seconds = 1
    node = bound_definition("rag", settings)["components"]["query_embedder"]  # as the rag graph builds it
    graph = Pipeline.from_dict({"components": {"query_embedder": node}, "connections": []},
                               allowed_modules=ALLOWED_MODULES)
    embedder = graph.get_component("query_embedder")
    embedder.warm_up()
    question = f"Quel est le délai de garantie du lot {secrets.token_hex(4)} ?"
    key = embedder.key(question)
    first = embedder.run(text=question)
    assert first["cache_hit"] is False
    ttl = int(subprocess.run(["redis-cli", "-p", "6379", "ttl", key], capture_output=True, text=True,
                             check=False).stdout)
    assert 0 < ttl <= settings.cache.embedding_ttl_seconds  # stored in Redis, with the configured TTL
    second = embedder.run(text=question)
    assert second["cache_hit"] is True
    assert second["embedding"] == pytest.approx(first["embedding"], abs=1e-7)
    _script("stop_redis.sh")
    try:
        down = embedder.run(text=question)  # computed: the cache is gone, the embedding is not
        assert down["cache_hit"] is False
        assert down["embedding"] == pytest.approx(first["embedding"], abs=1e-5)
    finally:
        _script("start_redis.sh")
    time.sleep(1.2)  # redis.retry_after_seconds
    assert embedder.run(text=question)["cache_hit"] is False  # a fresh, empty Redis
    assert embedder.run(text=question)["cache_hit"] is True


def test_auth_is_enforced_by_the_real_service(redis_service):
    base_url, key = redis_service
    assert httpx.get(f"{base_url}/health").status_code == 200
    assert httpx.get(f"{base_url}/v1/models").status_code == 401
    assert httpx.get(f"{base_url}/v1/models", headers={"x-api-key": "wrong"}).status_code == 401
    assert httpx.get(f"{base_url}/v1/models", headers={"x-api-key": key}).status_code == 200
    response = httpx.get(f"{base_url}/v1/models", headers={"x-api-key": key})
    assert response.headers["x-request-id"]
    metrics = httpx.get(f"{base_url}/metrics", headers={"x-api-key": key}).text
    assert "rag_requests_total" in metrics


def test_the_real_service_writes_one_access_line_per_request(redis_running):
    running, key = redis_running
    probe = secrets.token_hex(4)
    response = httpx.get(f"{running.base_url}/v1/models?probe={probe}", headers={"x-api-key": key})
    request_id = response.headers["x-request-id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and request_id not in running.log.read_text(encoding="utf-8"):
        time.sleep(0.2)
    time.sleep(0.5)  # a second line, if any, would be written by now
    log = running.log.read_text(encoding="utf-8")
    lines = [line for line in log.splitlines() if request_id in line]
    assert len(lines) == 1, lines
    access = json.loads(lines[0])
    assert (access["request_id"], access["route"], access["status"]) == (request_id, "/v1/models", 200)
    assert probe not in log  # uvicorn's own access line (with the query string) is not written


# ---- BM25 store (Elasticsearch) down mid-run ----------------------------------------------------------------------


class OwnCompatProxy:
    """This test's own es_compat_proxy in front of the shared Elasticsearch: the BM25 server the service sees."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(PROJECT_ROOT / "tests" / "servers" / "es_compat_proxy.py"), "--host",
                 "127.0.0.1", "--port", str(self.port), "--upstream", "http://127.0.0.1:9201"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("compatibility proxy did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def _qdrant_local(node: object, path: str) -> object:
    """No Qdrant server can be had here: Qdrant's local mode on disk stands in for it (servers mode otherwise)."""
    if isinstance(node, list):
        return [_qdrant_local(v, path) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _qdrant_local(v, path) for k, v in node.items()}
    if node.get("type") == QDRANT_STORE:
        params = {k: v for k, v in node["init_parameters"].items() if k not in {"url", "api_key"}}
        node["init_parameters"] = {**params, "path": path}
    return node


@pytest.fixture(scope="module")
def elasticsearch() -> None:
    try:
        httpx.get("http://127.0.0.1:9201/", timeout=5).raise_for_status()  # already serving (maybe another checkout's)
    except httpx.HTTPError:
        _script("start_elasticsearch.sh")


@pytest.fixture(scope="module")
def bm25_service(local_llm: str, elasticsearch: None, tmp_path_factory: pytest.TempPathFactory):
    """The service in servers mode: BM25 in the real Elasticsearch (a fresh index), dense in Qdrant local mode."""
    tmp = tmp_path_factory.mktemp("gateway-es")
    own_proxy = os.environ.get("RAG_TEST_RESTART_ES") != "1"
    proxy = OwnCompatProxy(free_port(), tmp / "proxy.log") if own_proxy else None
    if proxy is not None:
        proxy.start()
    hosts = f"http://127.0.0.1:{proxy.port}" if proxy is not None else "http://127.0.0.1:9200"
    pipelines = tmp / "pipelines"
    shutil.copytree(PROJECT_ROOT / "pipelines", pipelines)
    for graph in pipelines.glob("*/*.yml"):
        data = yaml.safe_load(graph.read_text(encoding="utf-8"))
        graph.write_text(yaml.safe_dump(_qdrant_local(data, str(tmp / "qdrant")), allow_unicode=True))
    key = secrets.token_urlsafe(24)
    index = f"rag_gateway_test_{secrets.token_hex(4)}"
    config = write_config(
        tmp / "hayhooks.yml",
        **{
            "stores/mode": "servers",
            "stores/data_dir": str(tmp / "data"),
            "stores/elasticsearch/hosts": hosts,
            "stores/elasticsearch/index": index,
            "server/pipelines_dir": str(pipelines),
            "server/port": free_port(),
            "auth": {"mode": "required", "api_keys": [{"name": "tester", "sha256": hash_api_key(key)}]},
            "cache/backend": "off",
        },
    )
    env = {**os.environ, "RAG_CONFIG": str(config)}
    try:
        done = subprocess.run([sys.executable, "-m", "service", "index", str(SAMPLE_CORPUS)], env=env,
                              capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "0 failed" in done.stdout, done.stdout
        running = RunningService(config, tmp / "serve.log")
    except BaseException:
        if proxy is not None:
            proxy.stop()
        raise
    yield running.base_url, key, proxy
    running.stop()
    if proxy is not None:
        proxy.stop()
    httpx.delete(f"http://127.0.0.1:9201/{index}", timeout=30)  # the test's own index, straight at the server


def _take_bm25_down(proxy: OwnCompatProxy | None) -> None:
    if proxy is not None:
        proxy.stop()
    else:
        _script("stop_elasticsearch.sh")


def _bring_bm25_back(proxy: OwnCompatProxy | None) -> None:
    if proxy is not None:
        proxy.start()
    else:
        _script("start_elasticsearch.sh")


def test_bm25_down_falls_back_to_dense_and_recovers_without_restart(bm25_service):
    base_url, key, proxy = bm25_service
    healthy = _chat(base_url, key, QUESTION, rag=True, max_tokens=8)
    assert healthy.status_code == 200, healthy.text
    assert "x-retrieval-degraded" not in healthy.headers
    _take_bm25_down(proxy)
    try:
        degraded = _chat(base_url, key, QUESTION, rag=True, max_tokens=8)
        assert degraded.status_code == 200, degraded.text
        assert degraded.headers["x-retrieval-degraded"] == "bm25"
        assert "Sources" in degraded.json()["choices"][0]["message"]["content"]  # the dense side still found some
        ready = httpx.get(f"{base_url}/ready", timeout=30).json()
        assert ready["backends"]["bm25_store"]["ok"] is False
    finally:
        _bring_bm25_back(proxy)
    recovered = _chat(base_url, key, QUESTION, rag=True, max_tokens=8)
    assert recovered.status_code == 200, recovered.text
    assert "x-retrieval-degraded" not in recovered.headers
    assert httpx.get(f"{base_url}/ready", timeout=30).json()["backends"]["bm25_store"]["ok"] is True
