"""
`rag index` while `rag serve` runs on the same data folder (embedded mode): the real `rag serve` on a temporary
data folder, questions asked in a loop by a client while the real `rag index` adds a folder, through the service.

Shown: `rag index` hands its run to the service (it cannot open the stores the service holds); no question fails
during the run and answers keep coming; the new document is found by the questions, from the batch that wrote it;
the service's notice (its data folder's `service.json`, mode 0600) is there while it serves and gone once stopped.

The LLM is the stub OpenAI server (tests/integration/stub_llm.py): the answers are not under test here, the
retrieval that finds the new document is (the real embedder, Qdrant Edge and the BM25 store).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import SAMPLE_CORPUS, RunningService, free_port, write_config
from tests.integration.stub_llm import StubLLM, stub_llm_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIRST_DOCUMENT = """# Marché A1111 : réfection de la voirie de Testville

Le marché A1111 passé par la commune de Testville porte sur la réfection de la chaussée de la rue des Lilas.
Le montant du marché est de 84 500 € HT. Les travaux commencent en mars 2026.
"""
ADDED_DOCUMENT = """# Marché Z9917 : pont de la Sèvre

Le marché Z9917 passé par le département porte sur la réparation du pont de la Sèvre.
Le montant du marché Z9917 est de 1 245 000 € HT, pour une durée de 14 mois.
"""
ADDED_NAME = "00_marche_Z9917_pont_de_la_sevre.md"  # first in the folder: in the run's first batch
BATCH_FILES = 4  # the 16 files of the added folder in 4 batches
BASELINE_SECONDS = 8.0


@dataclass
class Answer:
    started: float
    ended: float
    status: int | None
    found: bool  # the new document is among the sources
    error: str = ""


class Asker:
    """A client asking about the new document in a loop, each question new (no cached answer)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        with httpx.Client(timeout=120) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                started = time.monotonic()
                try:
                    response = client.post(
                        f"{self.base_url}/rag/run",
                        json={"query": f"Quel est le montant du marché Z9917 du pont de la Sèvre ? (question {i})"},
                    )
                    sources = json.dumps(response.json()["result"]["sources"]) if response.status_code == 200 else ""
                    self.answers.append(Answer(started, time.monotonic(), response.status_code, "Z9917" in sources))
                except Exception as e:
                    self.answers.append(Answer(started, time.monotonic(), None, False, f"{type(e).__name__}: {e}"))

    def stop(self) -> list[Answer]:
        self._stop.set()
        self._thread.join(timeout=180)
        return self.answers


@pytest.fixture(scope="module")
def llm() -> Iterator[StubLLM]:
    stub = StubLLM()
    yield stub
    stub.stop()


def _rag_index(config: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "index", str(folder)],
        env={**os.environ, "RAG_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_rag_index_while_rag_serve_answers(tmp_path: Path, llm: StubLLM) -> None:
    data_dir = tmp_path / "data"
    config = write_config(
        tmp_path / "hayhooks.yml",
        **{
            "stores/data_dir": str(data_dir),
            "server/port": free_port(),
            "models/llm": stub_llm_settings(llm),
            "indexing/batch_files": BATCH_FILES,
            "cache/backend": "off",
            "rate_limit/backend": "off",  # one client asking as fast as it is answered
        },
    )
    first = tmp_path / "first"
    first.mkdir()
    (first / "a1111.md").write_text(FIRST_DOCUMENT, encoding="utf-8")
    before = _rag_index(config, first)  # no service: `rag index` opens the stores itself
    assert before.returncode == 0, before.stdout + before.stderr
    assert "Indexing through the service" not in before.stderr
    assert "1 files indexed (1 added" in before.stdout

    service = RunningService(config, tmp_path / "serve.log")
    try:
        notice = data_dir / "service.json"
        assert stat.S_IMODE(notice.stat().st_mode) == 0o600
        added = tmp_path / "added"
        shutil.copytree(SAMPLE_CORPUS, added)
        (added / ADDED_NAME).write_text(ADDED_DOCUMENT, encoding="utf-8")

        asker = Asker(service.base_url)
        time.sleep(BASELINE_SECONDS)
        index_started = time.monotonic()
        during = _rag_index(config, added)
        index_ended = time.monotonic()
        time.sleep(3)
        answers = asker.stop()
    finally:
        service.stop()
    log = service.log.read_text()

    assert during.returncode == 0, during.stdout + during.stderr
    assert "Indexing through the service running on this data folder" in during.stderr
    summary = "16 files indexed (16 added, 0 updated, 0 unchanged), 0 skipped, 0 without text, 0 failed, 0 deleted"
    assert summary in during.stdout, during.stdout
    failed = [a for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} questions failed: {failed[:5]}\n{log[-3000:]}"
    assert "Traceback" not in log, log[-5000:]

    baseline = [a for a in answers if a.ended < index_started]
    while_indexing = [a for a in answers if a.started >= index_started and a.ended <= index_ended]
    assert baseline
    assert not any(a.found for a in baseline)
    assert len(while_indexing) >= 3, "answers stopped during the run"  # they keep coming
    found = [a for a in answers if a.found]
    assert found, "the new document was never found"
    assert all(a.found for a in answers if a.started >= index_ended)  # every question asked after the run finds it
    first_found = min(a.ended for a in found) - index_started
    assert first_found < index_ended - index_started  # found from its batch, before the run's last batch ended
    print(
        f"\nrun {index_ended - index_started:.1f} s; new document first found {first_found:.1f} s after the run "
        f"started; answers: {len(baseline)} in {BASELINE_SECONDS:.0f} s before (p50 "
        f"{statistics.median(a.ended - a.started for a in baseline):.2f} s), {len(while_indexing)} during (p50 "
        f"{statistics.median(a.ended - a.started for a in while_indexing):.2f} s, max "
        f"{max(a.ended - a.started for a in while_indexing):.2f} s)"
    )
    assert not notice.exists()  # removed at shutdown
