"""Indexing real files with the real graph: the real embedder and the embedded stores (Qdrant Edge, BM25 store)
in temporary folders. `rag index` runs as a real subprocess, killed with SIGKILL half-way in one test."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import docx
import httpx
import pytest
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table

from service.pipelines import build_pipeline
from service.settings import load_settings
from service.store_registry import forget_document_stores
from tests.integration.conftest import RunningService, free_port, write_config

pytestmark = pytest.mark.integration

OLD_ONLY = "gravillonnage bicouche exceptionnel"


def make_docx(path: Path) -> None:
    document = docx.Document()
    document.add_heading("Note technique A2511", level=1)
    document.add_paragraph("Le trottoir de la Grande Rue est prolongé de 85 m jusqu'à l'école.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Poste", "Montant HT"
    row = table.add_row().cells
    row[0].text, row[1].text = "Bordures T2", "4 250 €"
    document.save(path)


def make_pdf(path: Path) -> None:
    styles = getSampleStyleSheet()
    story = [
        Paragraph("Rapport d'essais RE-2025-118", styles["Heading1"]),
        Paragraph("Compacité moyenne mesurée : 94,2 % pour un objectif de 93 %.", styles["Normal"]),
        Table([["Section", "Compacité"], ["PR 12+100", "94,1 %"]]),
        PageBreak(),
        Paragraph("Conclusion : résultats conformes à la norme NF P 98-331.", styles["Normal"]),
    ]
    SimpleDocTemplate(str(path)).build(story)


def make_corpus(root: Path) -> Path:
    (root / "A2458_RD912").mkdir(parents=True)
    (root / "A2458_RD912" / "cr.md").write_text(
        f"---\ntitle: CR n° 4\ntags: [rabotage]\n---\n# CR n° 4\n## Avancement\nRabotage 68 %. {OLD_ONLY}.\n", "utf-8"
    )
    (root / "A2458_RD912" / "rapport.pdf").parent.mkdir(exist_ok=True)
    make_pdf(root / "A2458_RD912" / "rapport.pdf")
    make_docx(root / "note_A2511.docx")
    (root / "page.html").write_text("<h1>Fiche B1037</h1><p>Collecteur de Montreval, 240 ml.</p>", "utf-8")
    (root / "lots.csv").write_text("Lot;Intitulé;Montant\n1;Terrassements;312 000 €\n2;Chaussées;933 800 €\n", "utf-8")
    (root / "consigne.txt").write_text("Viabilité hivernale : astreinte du 15 novembre au 15 mars.\n", "utf-8")
    return root


def run_index(config: Path, *paths: Path, prune: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "service", "index", *map(str, paths), *(["--prune"] if prune else [])]
    return subprocess.run(
        command, env={**os.environ, "RAG_CONFIG": str(config)}, capture_output=True, text=True, timeout=900, check=False
    )


def store_contents(config: Path) -> tuple[dict[str, str], dict[str, str]]:
    """id -> text in the vector store and in the BM25 store (opened, read and closed in this process)."""
    pipeline = build_pipeline("indexing", load_settings(config))
    stores = [pipeline.get_component(name).document_store for name in ("vector_writer", "bm25_writer")]
    try:
        vector, bm25 = ({d.id: d.content for d in store.filter_documents()} for store in stores)
    finally:
        for store in stores:
            if hasattr(store, "close"):
                store.close()
        forget_document_stores()
    return vector, bm25


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "hayhooks.yml", **{"stores/data_dir": str(tmp_path / "data")})


def test_mixed_formats_then_edit_delete_add(tmp_path, config):
    corpus = make_corpus(tmp_path / "corpus")
    first = run_index(config, corpus)
    assert first.returncode == 0, first.stderr
    summary = "6 files indexed (6 added, 0 updated, 0 unchanged), 0 skipped, 0 without text, 0 failed, 0 deleted"
    assert summary in first.stdout, first.stdout
    vector, bm25 = store_contents(config)
    assert vector.keys() == bm25.keys()
    text = " ".join(bm25.values())
    for expected in ["94,2 %", "Collecteur de Montreval", "| 2 | Chaussées |", OLD_ONLY]:
        assert expected in text
    assert re.search(r"\| Poste +\| Montant HT +\|", text)  # the DOCX table, as a Markdown table
    assert "# Note technique A2511" in text  # the DOCX heading

    (corpus / "A2458_RD912" / "cr.md").write_text("---\ntitle: CR n° 4\n---\n# CR n° 4\nRabotage terminé.\n", "utf-8")
    (corpus / "lots.csv").unlink()
    (corpus / "ajout.md").write_text("# Planning indice B\nMise en œuvre des enrobés en semaine 42.\n", "utf-8")
    (corpus / "illisible.pdf").write_bytes(b"%PDF-1.7 cut short")
    second = run_index(config, corpus, prune=True)
    assert second.returncode == 0, second.stderr
    summary = "6 files indexed (1 added, 1 updated, 4 unchanged), 0 skipped, 0 without text, 1 failed, 1 deleted"
    assert summary in second.stdout, second.stdout
    assert "failed: illisible.pdf" in second.stdout

    vector, bm25 = store_contents(config)
    assert vector.keys() == bm25.keys()
    for contents in (vector, bm25):
        text = " ".join(contents.values())
        assert OLD_ONLY not in text
        assert "Rabotage terminé" in text
        assert "933 800" not in text
        assert "semaine 42" in text


def _committed(manifest: Path) -> int:
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))["files"].values()
    except (OSError, ValueError, KeyError):
        return 0
    return sum(1 for e in entries if not e["pending"])


def test_a_run_killed_half_way_then_resumed_matches_a_clean_run(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(10):
        paragraphs = "\n\n".join(f"Paragraphe {j} de la note {i} : enrobés, 6 cm, lot {j % 3}." for j in range(30))
        (corpus / f"note_{i:02}.md").write_text(f"# Note {i}\n\n{paragraphs}\n", "utf-8")
    killed = write_config(
        tmp_path / "killed.yml", **{"stores/data_dir": str(tmp_path / "killed"), "indexing/batch_files": 2}
    )
    clean = write_config(
        tmp_path / "clean.yml", **{"stores/data_dir": str(tmp_path / "clean"), "indexing/batch_files": 2}
    )

    process = subprocess.Popen(
        [sys.executable, "-m", "service", "index", str(corpus)],
        env={**os.environ, "RAG_CONFIG": str(killed)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    manifest = tmp_path / "killed" / "manifest-rag_documents.json"
    deadline = time.monotonic() + 600
    while _committed(manifest) < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert 0 < _committed(manifest) < 10

    resumed = run_index(killed, corpus)
    assert resumed.returncode == 0, resumed.stderr
    assert "10 files indexed" in resumed.stdout
    assert run_index(clean, corpus).returncode == 0

    killed_vector, killed_bm25 = store_contents(killed)
    clean_vector, clean_bm25 = store_contents(clean)
    assert set(killed_vector) == set(killed_bm25) == set(clean_vector) == set(clean_bm25)
    assert killed_bm25 == clean_bm25


def test_upload_endpoint_indexes_files_into_the_servers_stores(tmp_path):
    """`POST /upload/run` in the real server: the rag graph and the upload graph share one Qdrant local client."""
    config = write_config(
        tmp_path / "hayhooks.yml",
        **{
            "stores/data_dir": str(tmp_path / "data"),
            "server/port": free_port(),
            "indexing/upload_dir": str(tmp_path / "uploads"),
        },
    )
    service = RunningService(config, tmp_path / "serve.log")
    try:
        note = b"Le collecteur EU de Montreval mesure 240 ml en DN 400.\n"
        files = [("files", ("collecteur_B1037.txt", note, "text/plain"))]
        done = httpx.post(f"{service.base_url}/upload/run", files=files, timeout=600)
        assert done.status_code == 200, done.text
        result = done.json()["result"]
        assert result["added"] == ["dev-dev/collecteur_B1037.txt"]  # the uploader's own folder (dev mode: dev)
        assert result["chunks"] >= 1
        again = httpx.post(f"{service.base_url}/upload/run", files=files, timeout=600).json()["result"]
        assert again["unchanged"] == 1
        refused = httpx.post(
            f"{service.base_url}/upload/run", files=[("files", ("plan.dwg", b"x", "image/vnd.dwg"))], timeout=60
        )
        assert refused.status_code == 400
        assert "unsupported file type" in refused.text
        # the rag graph reads the same stores in the same process (an answer, or a 503 with sources if no LLM)
        asked = httpx.post(
            f"{service.base_url}/rag/run", json={"query": "Longueur du collecteur de Montreval ?"}, timeout=600
        )
        assert asked.status_code in (200, 503), asked.text
        assert "collecteur_B1037.txt" in asked.text
    finally:
        service.stop()
