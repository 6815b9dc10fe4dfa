from collections.abc import Iterator

import pytest
from gateway_testing import client_for, keys  # noqa: F401 (fixtures)

from components.retrievers.retrieval_report import BACKEND_STATUS


@pytest.fixture(autouse=True)
def _fresh_backend_status() -> Iterator[None]:
    """Store failures are remembered per process: each test starts with none."""
    BACKEND_STATUS.clear()
    yield
    BACKEND_STATUS.clear()
