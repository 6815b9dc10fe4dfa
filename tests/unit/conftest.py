"""Fixtures shared by the unit tests. Nothing here loads a model, starts a server or opens a network connection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from haystack import Pipeline

from components.retrievers.access_scope import trust_callers_outside_requests
from service.pipelines import build_pipeline
from service.settings import DEFAULT_CONFIG_PATH, Settings, load_settings

# The unit tests run graphs and retrievers directly, outside any request: trusted callers (the served app is not).
trust_callers_outside_requests()


def _clear_rag_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)


def _with_data_dir(settings: Settings, data_dir: Path) -> Settings:
    stores = settings.stores.model_copy(update={"data_dir": str(data_dir)})
    return settings.model_copy(update={"stores": stores})


@pytest.fixture(autouse=True)
def _no_rag_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees `hayhooks.yml` as written, whatever `RAG_*` variables the shell exports."""
    _clear_rag_environment(monkeypatch)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The repository's `hayhooks.yml` (embedded mode), with the stores' folder moved to a temporary folder."""
    return _with_data_dir(load_settings(DEFAULT_CONFIG_PATH), tmp_path / "data")


@pytest.fixture
def servers_settings(settings: Settings) -> Settings:
    """The same configuration in `servers` mode."""
    return settings.model_copy(update={"stores": settings.stores.model_copy(update={"mode": "servers"})})


@pytest.fixture(scope="session")
def rag_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """The real `rag` graph, built (not warmed up) once for the session."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _clear_rag_environment(monkeypatch)
        settings = _with_data_dir(load_settings(DEFAULT_CONFIG_PATH), tmp_path_factory.mktemp("data"))
        return build_pipeline("rag", settings)
