"""
The security probe (bench/security.py) against the real service, and the served app failing closed.

The probe starts `rag serve` in `auth.mode: required` behind its own test issuer (a JWKS on 127.0.0.1) on the
indexed sample corpus, with the real local vLLM, and attacks it; every attack must be refused as expected.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.security import run_probe, table
from bench.served import base_config
from tests.integration.conftest import write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Run in a process of its own, as uvicorn runs the app: no one declared its callers trusted there.
OUTSIDE_A_REQUEST = """
import json, sys
from hayhooks.server.pipelines.registry import registry
from components.retrievers.access_scope import trust_callers_outside_requests
from service.server import create_service_app

create_service_app()
rag = registry.get("rag").pipeline
question = "Quel est le montant HT du marché de l'affaire A2458 ?"
embedding = rag.get_component("query_embedder").run(text=question)["embedding"]

def found():
    dense = rag.get_component("dense_retriever").run(query_embedding=embedding)["documents"]
    bm25 = rag.get_component("bm25_retriever").run(query=question)["documents"]
    return len(dense) + len(bm25)

served = found()
trust_callers_outside_requests()  # what the CLI, the benchmarks and the tests declare
print(json.dumps({"served": served, "trusted": found()}))
"""


def test_every_attack_of_the_probe_is_refused(local_llm, indexed_data_dir, tmp_path):
    rows = run_probe(str(indexed_data_dir), base_config(), tmp_path)
    print("\n" + table(rows))
    assert [r.attack for r in rows if not r.ok] == [], table(rows)
    assert len(rows) >= 48


def test_a_graph_run_outside_a_request_in_the_served_app_sees_no_document(indexed_data_dir, tmp_path):
    shutil.copytree(indexed_data_dir, tmp_path / "data")  # the embedded Qdrant: one process per folder
    config = write_config(tmp_path / "hayhooks.yml", **{"stores/data_dir": str(tmp_path / "data")})
    done = subprocess.run(
        [sys.executable, "-c", OUTSIDE_A_REQUEST],
        env={**os.environ, "RAG_CONFIG": str(config)},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["served"] == 0
    assert found["trusted"] > 0  # the same retrievers find documents for a caller declared trusted
