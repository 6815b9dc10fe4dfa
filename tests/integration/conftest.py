"""Real servers for the integration tests: the local vLLM, the indexed sample corpus, the service itself.

The LLM is the real local vLLM (started once per session if `.ci/run` or `make llm` did not start it already):
the same OpenAI API a production GPU vLLM serves. Each service under test is a real `rag serve` process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from components.retrievers.access_scope import trust_callers_outside_requests
from service.local_llm import ensure_local_llm
from service.settings import PROJECT_ROOT, load_settings

SAMPLE_CORPUS = PROJECT_ROOT / "samples" / "corpus"
SERVER_START_TIMEOUT = 300

# Tests that run graphs in this process do so outside any request: trusted callers (a served `rag serve` is not).
trust_callers_outside_requests()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    def __init__(self, config: Path, log: Path) -> None:
        settings = load_settings(config)
        self.base_url = f"http://127.0.0.1:{settings.server.port}"
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--no-llm"],
            env={**os.environ, "RAG_CONFIG": str(config)},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rag serve exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"rag serve not ready after {SERVER_START_TIMEOUT} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log_file.close()


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
