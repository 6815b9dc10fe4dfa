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
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--no-llm"],
                env={**os.environ, "RAG_CONFIG": str(self.config)},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rag serve exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"rag serve did not answer /health within {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.data, ignore_errors=True)
