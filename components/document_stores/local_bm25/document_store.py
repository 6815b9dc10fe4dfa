"""An in-process BM25 document store kept on disk: the embedded stand-in for Elasticsearch."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from haystack import Document, default_from_dict, default_to_dict
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy


class LocalBM25DocumentStore(InMemoryDocumentStore):
    """
    Haystack's `InMemoryDocumentStore`, persisted to one JSON file.

    Every write or delete is saved atomically (write to a temporary file, then rename), so a reader never sees a
    half-written file; a store whose file was changed by another process (the indexer) reloads it before the next
    read. Embeddings are not kept: this store only serves BM25 retrieval. It works with `InMemoryBM25Retriever`.
    """

    def __init__(
        self,
        path: str,
        bm25_algorithm: str = "BM25L",
        bm25_parameters: dict[str, Any] | None = None,
    ) -> None:
        """
        :param path: The JSON file holding the documents; created on the first write.
        :param bm25_algorithm: "BM25Okapi", "BM25L" or "BM25Plus".
        :param bm25_parameters: Parameters of the BM25 algorithm, e.g. `{"k1": 1.2, "b": 0.75}`.
        """
        super().__init__(
            bm25_algorithm=bm25_algorithm,  # type: ignore[arg-type]
            bm25_parameters=bm25_parameters,
            shared=False,
            return_embedding=False,
        )
        self.path = path
        self._loaded_mtime: float | None = None
        self._in_batch = False  # InMemoryDocumentStore.write_documents calls delete_documents per overwritten doc
        self._reload_if_changed()

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self, path=self.path, bm25_algorithm=self.bm25_algorithm, bm25_parameters=self.bm25_parameters
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocalBM25DocumentStore:
        return default_from_dict(cls, data)

    def _file_mtime(self) -> float | None:
        try:
            return os.stat(self.path).st_mtime_ns / 1e9
        except FileNotFoundError:
            return None

    def _reload_if_changed(self) -> None:
        mtime = self._file_mtime()
        if mtime == self._loaded_mtime:
            return
        super().delete_all_documents()
        if mtime is not None:
            with open(self.path, encoding="utf-8") as f:
                documents = [Document.from_dict(d) for d in json.load(f)["documents"]]
            super().write_documents(documents, policy=DuplicatePolicy.OVERWRITE)
        self._loaded_mtime = mtime

    def _save(self) -> None:
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        payload = {"documents": [doc.to_dict(flatten=False) for doc in self.storage.values()]}
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False)
        os.replace(tmp, target)
        self._loaded_mtime = self._file_mtime()

    def count_documents(self) -> int:
        self._reload_if_changed()
        return super().count_documents()

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        self._reload_if_changed()
        return super().filter_documents(filters)

    def bm25_retrieval(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int = 10, scale_score: bool = False
    ) -> list[Document]:
        self._reload_if_changed()
        return super().bm25_retrieval(query=query, filters=filters, top_k=top_k, scale_score=scale_score)

    def write_documents(self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE) -> int:
        self._reload_if_changed()
        self._in_batch = True
        try:
            written = super().write_documents([replace(d, embedding=None) for d in documents], policy=policy)
        finally:
            self._in_batch = False
        self._save()
        return written

    def delete_documents(self, document_ids: list[str]) -> None:
        if self._in_batch:
            super().delete_documents(document_ids)
            return
        self._reload_if_changed()
        super().delete_documents(document_ids)
        self._save()

    def update_by_filter(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        self._reload_if_changed()
        updated = super().update_by_filter(filters, meta)
        self._save()
        return updated

    def delete_by_filter(self, filters: dict[str, Any]) -> int:
        self._reload_if_changed()
        self._in_batch = True
        try:
            deleted = super().delete_by_filter(filters)
        finally:
            self._in_batch = False
        self._save()
        return deleted

    def delete_all_documents(self) -> None:
        super().delete_all_documents()
        self._save()
