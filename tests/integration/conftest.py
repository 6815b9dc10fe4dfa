"""Real servers for the integration tests: the local vLLM, the indexed sample corpus, the service itself.

The LLM is the real local vLLM (started once per session if `.ci/run` or `make llm` did not start it already):
the same OpenAI API a production GPU vLLM serves. Each service under test is a real `rag serve` process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bench.served import free_port, rag_serve
from components.retrievers.access_scope import trust_callers_outside_requests
from service.local_llm import ensure_local_llm
from service.settings import PROJECT_ROOT, load_settings

SAMPLE_CORPUS = PROJECT_ROOT / "samples" / "corpus"
SERVER_START_TIMEOUT = 300

# Tests that run graphs in this process do so outside any request: trusted callers (a served `rag serve` is not).
trust_callers_outside_requests()


def write_config(path: Path, **changes: object) -> Path:
    """A copy of hayhooks.yml with some dotted keys changed, as a user would edit it."""
    data = yaml.safe_load((PROJECT_ROOT / "hayhooks.yml").read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("/")
        for part in parents:
            node = node[part]
        node[last] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def local_llm() -> str:
    """The real local vLLM, started if needed; returns its base URL."""
    settings = load_settings()
    ensure_local_llm(settings)
    return settings.llm_backend().base_url


@pytest.fixture(scope="session")
def indexed_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the sample corpus, indexed by the real `rag index` command."""
    data_dir = tmp_path_factory.mktemp("data")
    config = write_config(tmp_path_factory.mktemp("cfg") / "hayhooks.yml", **{"stores/data_dir": str(data_dir)})
    done = subprocess.run(
        [sys.executable, "-m", "service", "index", str(SAMPLE_CORPUS)],
        env={**os.environ, "RAG_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "15 files indexed" in done.stdout, done.stdout
    return data_dir


class RunningService:
    """`rag serve --no-llm` on a configuration file, at the port it sets, once it answers `/health`."""

    def __init__(self, config: Path, log: Path) -> None:
        settings = load_settings(config)
        self.base_url = f"http://127.0.0.1:{settings.server.port}"
        self.log = log
        self.server = rag_serve(config, log, self.base_url, SERVER_START_TIMEOUT)
        self.process = self.server.process

    def stop(self) -> None:
        self.server.stop()


def start_service(tmp: Path, data_dir: Path, **changes: object) -> RunningService:
    own_data = tmp / "data"
    shutil.copytree(data_dir, own_data)  # the embedded Qdrant allows one process per folder
    config = write_config(
        tmp / "hayhooks.yml", **{"stores/data_dir": str(own_data), "server/port": free_port(), **changes}
    )
    return RunningService(config, tmp / "serve.log")


@pytest.fixture(scope="session")
def service(local_llm: str, indexed_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on the embedded default, answering with the real local vLLM; returns its base URL."""
    running = start_service(tmp_path_factory.mktemp("service"), indexed_data_dir)
    yield running.base_url
    running.stop()
