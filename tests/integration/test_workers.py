"""
Several service processes against the servers: `rag serve` with `stores.mode: servers` and `server.workers: 2`,
BM25 in the real Elasticsearch, the answer cache and the rate limits in the real Redis. Shown: a rate limit counted
across both workers, an answer cached by one worker served by the other, a re-index seen by both.

Each access-log line names the worker (pid) that served the request: the test reads it to know which process
answered, and sends every request on a new connection so that the kernel hands them to both.

Stand-ins, said here and in the README: no Qdrant server can be installed on these machines, and Qdrant's local
mode locks its folder to one process, so each worker's dense store is an empty in-memory Qdrant (`location:
":memory:"`): every passage comes from Elasticsearch, the shared store. The LLM is a stub OpenAI server in this
test (the answers are not under test here; the real vLLM is in test_generation.py and test_gateway.py).

Elasticsearch: started by scripts/test.sh, or here (tests/integration/es_server.py). Redis: scripts/start_redis.sh.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from service.gateway.auth import hash_api_key
from tests.integration.conftest import PROJECT_ROOT, RunningService, free_port, write_config
from tests.integration.es_server import elasticsearch_url  # noqa: F401 (a fixture)
from tests.integration.stub_llm import STUB_MODEL, StubLLM

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QDRANT_STORE = "haystack_integrations.document_stores.qdrant.document_store.QdrantDocumentStore"
WORKERS = 2
REQUESTS_PER_MINUTE = 12

FIRST_DOCUMENT = """# Marché A1111 : réfection de la voirie de Testville

Le marché A1111 passé par la commune de Testville porte sur la réfection de la chaussée de la rue des Lilas.
Le montant du marché est de 84 500 € HT. Les travaux commencent en mars 2026.
"""
ADDED_DOCUMENT = """# Marché Z9917 : pont de la Sèvre

Le marché Z9917 passé par le département porte sur la réparation du pont de la Sèvre.
Le montant du marché Z9917 est de 1 245 000 € HT, pour une durée de 14 mois.
"""


# ---- servers ------------------------------------------------------------------------------------------------------


def _script(name: str) -> None:
    done = subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / name)], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"


def _redis_up() -> bool:
    return subprocess.run(["redis-cli", "-p", "6379", "ping"], capture_output=True, text=True,
                          check=False).stdout.strip() == "PONG"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    was_up = _redis_up()
    _script("start_redis.sh")
    yield "redis://127.0.0.1:6379/0"
    if not was_up:
        _script("stop_redis.sh")


def _dense_in_memory(node: Any) -> Any:
    """Each worker's Qdrant: an empty in-memory one (no Qdrant server here; local mode allows one process)."""
    if isinstance(node, list):
        return [_dense_in_memory(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _dense_in_memory(v) for k, v in node.items()}
    if node.get("type") == QDRANT_STORE:
        params = {k: v for k, v in node["init_parameters"].items() if k not in {"url", "api_key", "path"}}
        node["init_parameters"] = {**params, "location": ":memory:"}
    return node


class Workers:
    """The service with two worker processes, its corpus folder, API keys and log."""

    def __init__(self, tmp: Path, elasticsearch: str, redis: str, llm: StubLLM) -> None:
        self.corpus = tmp / "corpus"
        self.corpus.mkdir()
        (self.corpus / "a1111.md").write_text(FIRST_DOCUMENT, encoding="utf-8")
        pipelines = tmp / "pipelines"
        shutil.copytree(PROJECT_ROOT / "pipelines", pipelines)
        for graph in pipelines.glob("*/*.yml"):
            data = yaml.safe_load(graph.read_text(encoding="utf-8"))
            graph.write_text(yaml.safe_dump(_dense_in_memory(data), allow_unicode=True), encoding="utf-8")
        run = secrets.token_hex(4)  # fresh rate-limit counters and cache entries in a shared Redis
        self.keys = {purpose: secrets.token_urlsafe(24) for purpose in ("limits", "cache", "reindex")}
        self.index = f"rag_workers_test_{run}"
        self.elasticsearch = elasticsearch
        self.config = write_config(
            tmp / "hayhooks.yml",
            **{
                "server/workers": WORKERS,
                "server/port": free_port(),
                "server/pipelines": ["rag"],
                "server/pipelines_dir": str(pipelines),
                "stores/mode": "servers",
                "stores/data_dir": str(tmp / "data"),  # one host: the workers share it (the index generation)
                "stores/elasticsearch/hosts": elasticsearch,
                "stores/elasticsearch/index": self.index,
                "models/llm": {
                    "default": STUB_MODEL,
                    "backends": {STUB_MODEL: {"base_url": llm.base_url, "model": STUB_MODEL, "timeout": 30}},
                    "local": None,
                },
                "auth": {
                    "mode": "required",
                    "api_keys": [{"name": f"{p}-{run}", "sha256": hash_api_key(k)} for p, k in self.keys.items()],
                },
                "cache/backend": "redis",
                "rate_limit/backend": "redis",
                "rate_limit/requests_per_minute": REQUESTS_PER_MINUTE,
                "redis/url": redis,
            },
        )
        self.reindex()
        self.running = RunningService(self.config, tmp / "serve.log")
        self._wait_for_every_worker()

    def reindex(self) -> str:
        """`rag index` on the corpus folder, as the indexing job does: a process of its own."""
        done = subprocess.run([sys.executable, "-m", "service", "index", str(self.corpus)],
                              env={**os.environ, "RAG_CONFIG": str(self.config)},
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "0 failed" in done.stdout, done.stdout
        return done.stdout

    def _wait_for_every_worker(self) -> None:
        deadline = time.monotonic() + 300
        while self.running.log.read_text().count("Application startup complete") < WORKERS:
            assert time.monotonic() < deadline, self.running.log.read_text()[-3000:]
            assert self.running.process.poll() is None, self.running.log.read_text()[-3000:]
            time.sleep(1)

    @property
    def base_url(self) -> str:
        return self.running.base_url

    def served_by(self, responses: list[httpx.Response]) -> list[int]:
        """The worker pid of each response, read from the access log."""
        wanted = [r.headers["x-request-id"] for r in responses]
        deadline = time.monotonic() + 10
        while True:
            lines = [json.loads(line) for line in self.running.log.read_text().splitlines()
                     if line.startswith('{"ts"')]
            workers = {line["request_id"]: line["worker"] for line in lines}
            if all(w in workers for w in wanted) or time.monotonic() > deadline:
                return [workers[w] for w in wanted]
            time.sleep(0.2)  # the access log is written every 100 ms

    def stop(self) -> None:
        self.running.stop()
        httpx.delete(f"{self.elasticsearch}/{self.index}", timeout=30)


@pytest.fixture(scope="module")
def workers(elasticsearch_url: str, redis_url: str,  # noqa: F811
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workers, StubLLM]]:
    llm = StubLLM()
    service = Workers(tmp_path_factory.mktemp("workers"), elasticsearch_url, redis_url, llm)
    yield service, llm
    service.stop()
    llm.stop()


def _ask(service: Workers, key: str, question: str) -> httpx.Response:
    # httpx.post: a new connection per request, which either worker may accept.
    return httpx.post(f"{service.base_url}/rag/run", json={"query": question},
                      headers={"authorization": f"Bearer {key}"}, timeout=120)


def _sources(response: httpx.Response) -> str:
    return json.dumps(response.json()["result"]["sources"], ensure_ascii=False)


# ---- the tests ----------------------------------------------------------------------------------------------------


def test_both_workers_answer(workers):
    service, _ = workers
    started = [line for line in service.running.log.read_text().splitlines() if "Started server process" in line]
    assert len(started) >= WORKERS


def test_a_rate_limit_is_counted_across_both_workers(workers):
    service, _ = workers
    if time.time() % 60 > 40:  # the limit is per minute: all of this test's requests in one minute
        time.sleep(61 - time.time() % 60)
    headers = {"authorization": f"Bearer {service.keys['limits']}"}
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(
            lambda _: httpx.get(f"{service.base_url}/v1/models", headers=headers, timeout=30),
            range(3 * REQUESTS_PER_MINUTE),
        ))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == REQUESTS_PER_MINUTE, statuses  # per-worker counters would allow twice as many
    assert statuses.count(429) == 2 * REQUESTS_PER_MINUTE, statuses
    assert all(int(r.headers["retry-after"]) > 0 for r in responses if r.status_code == 429)
    workers_seen = service.served_by(responses)
    assert len(set(workers_seen)) == WORKERS, workers_seen  # both processes counted into the same Redis counter


def test_an_answer_cached_by_one_worker_is_served_by_the_other(workers):
    service, llm = workers
    question = "Quelle est la couleur du bateau du capitaine Haddock ?"  # in no document: refused, no LLM call
    calls = llm.calls
    first = _ask(service, service.keys["cache"], question)
    assert first.status_code == 200, first.text
    assert first.headers["x-cache"] == "miss"
    [computed_by] = service.served_by([first])
    for _ in range(30):
        again = _ask(service, service.keys["cache"], question)
        assert again.headers["x-cache"] == "hit"
        assert again.content == first.content
        if service.served_by([again]) != [computed_by]:
            break
    else:
        pytest.fail(f"30 requests, all served by worker {computed_by}")
    assert llm.calls == calls  # a refusal: the LLM was not asked


def test_a_reindex_is_seen_by_both_workers(workers):
    service, llm = workers
    key = service.keys["reindex"]
    phrasings = [f"Quel est le montant du marché Z9917, demande {i} ?" for i in range(40)]
    before = _ask(service, key, phrasings[0])
    assert before.status_code == 200, before.text
    assert "Z9917" not in _sources(before)
    repeated = _ask(service, key, phrasings[0])
    assert repeated.headers["x-cache"] == "hit"

    (service.corpus / "z9917.md").write_text(ADDED_DOCUMENT, encoding="utf-8")
    assert "1 added" in service.reindex()

    # The question cached before the re-index is computed again (a new index generation), with the new document.
    after = _ask(service, key, phrasings[0])
    assert after.headers["x-cache"] == "miss"
    assert "Z9917" in _sources(after)
    # Each worker's own retrieval finds the new document (questions never asked: nothing cached).
    answered: dict[int, httpx.Response] = {}
    for question in phrasings[1:]:
        response = _ask(service, key, question)
        assert response.headers["x-cache"] == "miss"
        answered.setdefault(service.served_by([response])[0], response)
        if len(answered) == WORKERS:
            break
    assert len(answered) == WORKERS, f"every request served by worker {list(answered)}"
    for response in answered.values():
        assert "Z9917" in _sources(response)
    assert llm.calls > 0
