"""`rag serve` as a child process on a configuration of its own: started, waited for, stopped (benchmarks, probes)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_config() -> dict[str, Any]:
    """`hayhooks.yml` as written (the configuration a served copy starts from)."""
    return yaml.safe_load((ROOT / "hayhooks.yml").read_text(encoding="utf-8"))


def resolve(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else ROOT / path


class ChildServer:
    """
    A server started as a child process (its output in `log`), waited for until `health_url` answers 200, and
    stopped: `rag serve` for benchmarks and integration tests, Open WebUI for the browser tests.
    """

    def __init__(  # noqa: PLR0917
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log: Path,
        health_url: str,
        timeout: float,
        cwd: Path | None = None,
        poll: float = 1.0,
    ) -> None:
        self.log = log
        started = time.monotonic()
        self._log_file = log.open("w")
        self.process = subprocess.Popen(command, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, cwd=cwd)
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                self._log_file.close()
                raise RuntimeError(f"{name} exited ({self.process.returncode}):\n{self._tail()}")
            try:
                if httpx.get(health_url, timeout=2).status_code == 200:
                    self.ready_after = time.monotonic() - started  # seconds from the start to the first answer
                    return
            except httpx.HTTPError:
                pass
            time.sleep(poll)
        self.stop()
        raise RuntimeError(f"{name} did not answer {health_url} within {timeout:.0f} s:\n{self._tail()}")

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log_file.close()


def rag_serve(
    config: Path, log: Path, url: str, timeout: float, *, env: dict[str, str] | None = None, poll: float = 1.0
) -> ChildServer:
    """`rag serve --no-llm` on the configuration file `config` (environment overrides in `env`), serving `url`."""
    return ChildServer(
        "rag serve",
        [sys.executable, "-m", "service", "serve", "--no-llm"],
        {**os.environ, "RAG_CONFIG": str(config), **(env or {})},
        log,
        f"{url}/health",
        timeout,
        cwd=ROOT,
        poll=poll,
    )


class ServedCopy:
    """`rag serve --no-llm` on `config` (a dict of hayhooks.yml), with a copy of `data_dir` (the embedded Qdrant allows
    one process per folder), in `workdir`; `url` once it answers `/health`."""

    def __init__(self, config: dict[str, Any], data_dir: str | Path, workdir: Path, timeout: float = 600) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        if self.data.exists():
            shutil.rmtree(self.data)
        shutil.copytree(resolve(data_dir), self.data)
        config["stores"]["data_dir"] = str(self.data)
        self.config = workdir / "hayhooks.yml"
        self.config.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        self.url = f"http://127.0.0.1:{config['server']['port']}"
        self.log = workdir / "serve.log"
        try:
            self.server = rag_serve(self.config, self.log, self.url, timeout)
        except RuntimeError:
            shutil.rmtree(self.data, ignore_errors=True)
            raise
        self.process = self.server.process

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.data, ignore_errors=True)
