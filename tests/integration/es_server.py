"""The real local Elasticsearch for integration tests: started by scripts/test.sh, or here when it is not running."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from service.settings import PROJECT_ROOT

ELASTICSEARCH_URL = "http://127.0.0.1:9200"  # scripts/start_elasticsearch.sh: the 8.x-client compatibility proxy


def _answers() -> bool:
    try:
        return httpx.get(f"{ELASTICSEARCH_URL}/_cluster/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    """The local Elasticsearch 7.9 behind its compatibility proxy; started (and then stopped) if it was not running."""
    started = False
    if not _answers():
        subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "start_elasticsearch.sh")], check=True, timeout=300)
        started = True
    yield ELASTICSEARCH_URL
    if started:
        subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "stop_elasticsearch.sh")], check=False, timeout=120)
