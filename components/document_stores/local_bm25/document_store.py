"""An in-process BM25 document store kept on disk: the embedded stand-in for Elasticsearch."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from haystack import Document, default_from_dict, default_to_dict, logging
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy
from haystack.utils import expit
from haystack.utils.filters import document_matches_filter

from components.french_analysis import FrenchAnalyzer

logger = logging.getLogger(__name__)

BM25_ALGORITHMS = ("lucene", "robertson", "atire", "bm25l", "bm25+")
BM25_DEFAULT_PARAMETERS = {"k1": 1.2, "b": 0.75}  # Elasticsearch's
BM25_SCALING_FACTOR = 8  # as Haystack's InMemoryDocumentStore: scale_score maps a raw score s to expit(s / 8)
_FILTER_MASKS_KEPT = 64


class LocalBM25DocumentStore:
    """
    A BM25 document store in the process, kept in one JSON file, with French analysis and sparse-matrix scoring.

    Documents are analysed by `FrenchAnalyzer` (elision, lower case, stop words, Snowball stem, ASCII folding, codes
    and references kept whole) and scored with `bm25s` (a precomputed sparse term x document matrix): a query costs
    a few milliseconds at 10k chunks. Every write or delete is saved atomically (a temporary file renamed over the old
    one, under a file lock, after re-reading what another process wrote); a store whose file was changed by another
    process (the indexer) reloads it before its next operation. Embeddings are not kept: this store only serves BM25
    retrieval, through `LocalBM25Retriever`.
    """

    def __init__(
        self,
        path: str,
        bm25_algorithm: str = "lucene",
        bm25_parameters: dict[str, Any] | None = None,
        *,
        stemmer: str = "french",
        meta_fields_to_index: list[str] | None = None,
        codes_boost: float = 2.0,
    ) -> None:
        """
        :param path: The JSON file holding the documents; created on the first write.
        :param bm25_algorithm: A `bm25s` method: "lucene" (as Elasticsearch), "robertson", "atire", "bm25l", "bm25+".
        :param bm25_parameters: `k1`, `b` (and `delta` for bm25l / bm25+); Elasticsearch's `{"k1": 1.2, "b": 0.75}`
            when not given.
        :param stemmer: The Snowball stemmer of the analysis ("french"), or "none".
        :param meta_fields_to_index: Metadata fields whose text is searched with the content (default: `title`).
        :param codes_boost: Extra weight of the query's codes (`A2458`, `NF P 98-331`) found whole in a document, as
            in the Elasticsearch store: a code's BM25 score counts `1 + codes_boost` times.
        """
        if bm25_algorithm not in BM25_ALGORITHMS:
            msg = f"bm25_algorithm must be one of {', '.join(BM25_ALGORITHMS)}, not {bm25_algorithm!r}"
            raise ValueError(msg)
        self.path = path
        self.bm25_algorithm = bm25_algorithm
        self.bm25_parameters = bm25_parameters or {}
        self.stemmer = stemmer
        self.meta_fields_to_index = ["title"] if meta_fields_to_index is None else list(meta_fields_to_index)
        self.codes_boost = codes_boost
        self._analyzer = FrenchAnalyzer(stemmer=stemmer)
        self._lock = threading.RLock()
        self._documents: dict[str, Document] = {}
        self._loaded_signature: tuple[int, int, int] | None = None
        self._tokens: dict[str, tuple[tuple[str, ...], list[str]]] = {}  # id -> (indexed texts, their tokens)
        self._index: bm25s.BM25 | None = None
        self._indexed: list[Document] = []  # row i of the index is self._indexed[i]
        self._filter_masks: OrderedDict[str, np.ndarray] = OrderedDict()
        self._reload_if_changed()

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            path=self.path,
            bm25_algorithm=self.bm25_algorithm,
            bm25_parameters=self.bm25_parameters,
            stemmer=self.stemmer,
            meta_fields_to_index=self.meta_fields_to_index,
            codes_boost=self.codes_boost,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocalBM25DocumentStore:
        return default_from_dict(cls, data)

    # --- the file -------------------------------------------------------------------------------------------------

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _reload_if_changed(self) -> None:
        with self._lock:
            signature = self._signature()
            if signature == self._loaded_signature:
                return
            documents: dict[str, Document] = {}
            if signature is not None:
                with open(self.path, encoding="utf-8") as f:
                    documents = {d["id"]: Document.from_dict(d) for d in json.load(f)["documents"]}
            self._documents = documents
            self._loaded_signature = signature
            self._changed()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Read what others wrote, let the caller change `_documents`, then save: one writer at a time."""
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(f"{self.path}.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self._reload_if_changed()
                yield
                self._save(target)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _save(self, target: Path) -> None:
        payload = {"documents": [doc.to_dict(flatten=False) for doc in self._documents.values()]}
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(payload, f, ensure_ascii=False)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the store is no secret
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._loaded_signature = self._signature()
        self._changed()

    def _changed(self) -> None:
        self._index = None
        self._filter_masks.clear()

    # --- the index ------------------------------------------------------------------------------------------------

    def _indexed_texts(self, doc: Document) -> tuple[str, ...]:
        texts = [doc.content or ""]
        for field in self.meta_fields_to_index:
            value = doc.meta.get(field)
            values = value if isinstance(value, list) else [value]
            texts.extend(v for v in values if isinstance(v, str))
        return tuple(texts)

    def _doc_tokens(self, doc: Document) -> list[str]:
        texts = self._indexed_texts(doc)
        cached = self._tokens.get(doc.id)
        if cached is not None and cached[0] == texts:
            return cached[1]
        tokens = [t for text in texts for t in self._analyzer.tokens(text)]
        self._tokens[doc.id] = (texts, tokens)
        return tokens

    def _ensure_index(self) -> bm25s.BM25 | None:
        if self._index is not None:
            return self._index
        self._indexed = [d for d in self._documents.values() if d.content is not None]
        self._tokens = {d.id: self._tokens[d.id] for d in self._indexed if d.id in self._tokens}
        corpus = [self._doc_tokens(d) for d in self._indexed]
        if not any(corpus):
            return None
        index = bm25s.BM25(method=self.bm25_algorithm, **{**BM25_DEFAULT_PARAMETERS, **self.bm25_parameters})
        index.index(corpus, show_progress=False)
        self._index = index
        return index

    def _filter_matches(self, filters: dict[str, Any]) -> np.ndarray:
        """Per indexed document: 1 matches `filters`, 0 does not, -1 not evaluated yet (kept for the next queries)."""
        key = json.dumps(filters, sort_keys=True, default=str)
        matches = self._filter_masks.get(key)
        if matches is None:
            matches = np.full(len(self._indexed), -1, dtype=np.int8)
            self._filter_masks[key] = matches
            if len(self._filter_masks) > _FILTER_MASKS_KEPT:
                self._filter_masks.popitem(last=False)
        else:
            self._filter_masks.move_to_end(key)
        return matches

    def _first_matching(self, ranked: np.ndarray, filters: dict[str, Any], top_k: int) -> list[int]:
        """The first `top_k` of `ranked` that match `filters`, evaluating the filter only as far as needed."""
        matches = self._filter_matches(filters)
        kept: list[int] = []
        for i in ranked:
            if matches[i] < 0:
                matches[i] = document_matches_filter(filters, self._indexed[i])
            if matches[i]:
                kept.append(i)
                if len(kept) == top_k:
                    break
        return kept

    def term_statistics(self, text: str) -> tuple[int, dict[str, int]]:
        """How many documents the store holds, and how many hold each analysed term of `text` (BM25's own counts)."""
        with self._lock:
            self._reload_if_changed()
            index = self._ensure_index()
            terms = list(dict.fromkeys(self._analyzer.tokens(text)))
            if index is None:
                return 0, dict.fromkeys(terms, 0)
            indptr, vocabulary = index.scores["indptr"], index.vocab_dict
            counts = {}
            for term in terms:
                token_id = vocabulary.get(term)
                counts[term] = 0 if token_id is None else int(indptr[token_id + 1] - indptr[token_id])
            return len(self._indexed), counts

    def bm25_retrieval(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int = 10, scale_score: bool = False
    ) -> list[Document]:
        """
        The documents that contain a term of the query, best BM25 score first.

        :param query: The query text, analysed as the documents are.
        :param filters: Haystack metadata filters the documents must match.
        :param top_k: How many documents at most.
        :param scale_score: Scores mapped to (0, 1) by `expit(score / 8)`, as Haystack's in-memory store does.
        :returns: The documents, with their score.
        """
        if not query:
            msg = "Query should be a non-empty string"
            raise ValueError(msg)
        _validate_filters(filters)
        with self._lock:
            self._reload_if_changed()
            index = self._ensure_index()
            if index is None or top_k <= 0:
                return []
            ids = index.get_tokens_ids(self._analyzer.tokens(query))
            if not ids:
                return []
            scores = index.get_scores_from_ids(ids)
            code_ids = index.get_tokens_ids(list(dict.fromkeys(self._analyzer.codes(query))))
            if code_ids and self.codes_boost:
                scores = scores + self.codes_boost * index.get_scores_from_ids(code_ids)
            indices, indptr = index.scores["indices"], index.scores["indptr"]
            matched = np.zeros(len(self._indexed), dtype=bool)
            for token_id in set(ids):
                matched[indices[indptr[token_id] : indptr[token_id + 1]]] = True
            candidates = np.flatnonzero(matched)
            if filters:
                by_score = candidates[np.argsort(-scores[candidates], kind="stable")]
                ranked = self._first_matching(by_score, filters, top_k)
            else:
                if len(candidates) > top_k:
                    candidates = candidates[np.argpartition(-scores[candidates], top_k - 1)[:top_k]]
                ranked = candidates[np.argsort(-scores[candidates], kind="stable")]
            found = []
            for i in ranked:
                score = float(scores[i])
                found.append(
                    replace(self._indexed[i], score=expit(score / BM25_SCALING_FACTOR) if scale_score else score)
                )
            return found

    def warm_up(self) -> None:
        """Load the file and build the index now rather than at the first query."""
        with self._lock:
            self._reload_if_changed()
            self._ensure_index()

    async def bm25_retrieval_async(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int = 10, scale_score: bool = False
    ) -> list[Document]:
        """`bm25_retrieval` in a worker thread."""
        return await asyncio.to_thread(self.bm25_retrieval, query, filters, top_k, scale_score)

    # --- the DocumentStore protocol -------------------------------------------------------------------------------

    def count_documents(self) -> int:
        with self._lock:
            self._reload_if_changed()
            return len(self._documents)

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """
        :param filters: Haystack metadata filters; all documents when `None`.
        :returns: The stored documents that match.
        """
        _validate_filters(filters)
        with self._lock:
            self._reload_if_changed()
            if not filters:
                return list(self._documents.values())
            return [d for d in self._documents.values() if document_matches_filter(filters, d)]

    def count_documents_by_filter(self, filters: dict[str, Any]) -> int:
        return len(self.filter_documents(filters))

    def write_documents(self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE) -> int:
        """
        :param documents: The documents to store; their embeddings are dropped.
        :param policy: What to do with an id already stored: FAIL (the default, as NONE), SKIP or OVERWRITE.
        :returns: How many documents were written.
        :raises DuplicateDocumentError: An id is already stored and the policy is FAIL or NONE.
        """
        if not isinstance(documents, list) or any(not isinstance(d, Document) for d in documents):
            msg = "Please provide a list of Documents."
            raise ValueError(msg)
        if policy == DuplicatePolicy.NONE:
            policy = DuplicatePolicy.FAIL
        with self._writing():
            seen: set[str] = set()
            for doc in documents:
                if (doc.id in self._documents or doc.id in seen) and policy == DuplicatePolicy.FAIL:
                    msg = f"ID '{doc.id}' already exists."
                    raise DuplicateDocumentError(msg)
                seen.add(doc.id)
            written = 0
            for doc in documents:
                if doc.id in self._documents and policy == DuplicatePolicy.SKIP:
                    logger.warning("ID '{document_id}' already exists", document_id=doc.id)
                    continue
                self._documents[doc.id] = replace(doc, embedding=None, score=None)
                written += 1
            return written

    def delete_documents(self, document_ids: list[str]) -> None:
        """:param document_ids: The ids to delete; unknown ids are ignored."""
        with self._writing():
            for document_id in document_ids:
                self._documents.pop(document_id, None)

    def delete_all_documents(self) -> None:
        with self._writing():
            self._documents.clear()

    def update_by_filter(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """
        :param filters: Which documents to update.
        :param meta: Metadata merged into theirs.
        :returns: How many documents were updated.
        """
        _validate_filters(filters)
        with self._writing():
            matching = [d for d in self._documents.values() if document_matches_filter(filters, d)]
            for doc in matching:
                self._documents[doc.id] = replace(doc, meta={**doc.meta, **meta})
            return len(matching)

    def delete_by_filter(self, filters: dict[str, Any]) -> int:
        """
        :param filters: Which documents to delete.
        :returns: How many documents were deleted.
        """
        _validate_filters(filters)
        with self._writing():
            matching = [d.id for d in self._documents.values() if document_matches_filter(filters, d)]
            for document_id in matching:
                del self._documents[document_id]
            return len(matching)

    async def count_documents_async(self) -> int:
        return await asyncio.to_thread(self.count_documents)

    async def filter_documents_async(self, filters: dict[str, Any] | None = None) -> list[Document]:
        return await asyncio.to_thread(self.filter_documents, filters)

    async def write_documents_async(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        return await asyncio.to_thread(self.write_documents, documents, policy)

    async def delete_documents_async(self, document_ids: list[str]) -> None:
        await asyncio.to_thread(self.delete_documents, document_ids)


def _validate_filters(filters: dict[str, Any] | None) -> None:
    if filters and "operator" not in filters:
        msg = "Invalid filter syntax. See https://docs.haystack.deepset.ai/docs/metadata-filtering for details."
        raise ValueError(msg)
