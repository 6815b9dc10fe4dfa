"""One document store instance per store per process, shared by every graph that names it.

The embedded vector store (Qdrant Edge) locks its shard: a second instance on the same folder, in this process or
another, cannot open it. The `rag` graph and the upload endpoint's `indexing` graph run in the same server process,
so their nodes must share one store object; sharing also keeps the in-process BM25 store's memory single.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from haystack import Pipeline

_STORES: dict[str, Any] = {}
_LOCK = threading.Lock()
STORE_ATTRIBUTES = ("document_store", "_document_store")  # writers and our retrievers; qdrant-haystack's retrievers


def store_key(store: Any) -> str:
    """What identifies a store: its type and its folder or file when it has one, else its whole configuration."""
    data = store.to_dict()
    params = data.get("init_parameters") or {}
    if params.get("path"):
        identity = f"{Path(str(params['path'])).resolve()}|{params.get('index', '')}"
    else:
        identity = json.dumps(params, sort_keys=True, default=str)
    return f"{data.get('type')}|{identity}"


def share_document_stores(pipeline: Pipeline) -> Pipeline:
    """Point every node of `pipeline` that holds a document store (itself or through a wrapped component, such as
    a fault-tolerant retriever's `retriever`) at the process's instance of that store."""
    for _, instance in pipeline.walk():
        _share(instance, depth=3)
    return pipeline


def _share(holder: Any, depth: int) -> None:
    for attribute in STORE_ATTRIBUTES:
        store = getattr(holder, attribute, None)
        if store is None or not callable(getattr(store, "to_dict", None)):
            continue
        with _LOCK:
            shared = _STORES.setdefault(store_key(store), store)
        if shared is not store:
            setattr(holder, attribute, shared)
    if depth > 1:
        for name, value in list(vars(holder).items()):
            if name not in STORE_ATTRIBUTES and hasattr(value, "__haystack_input__"):  # a wrapped component
                _share(value, depth - 1)


def forget_document_stores() -> None:
    """Drop the shared instances (tests; a process that re-creates its stores)."""
    with _LOCK:
        _STORES.clear()
