"""An in-process BM25 document store kept on disk: the embedded stand-in for Elasticsearch."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import tantivy
from haystack import Document, default_from_dict, default_to_dict, logging
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy
from haystack.utils import expit
from haystack.utils.filters import document_matches_filter

from components.french_analysis import FrenchAnalyzer

logger = logging.getLogger(__name__)

BM25_ALGORITHMS = ("lucene",)
BM25_DEFAULT_PARAMETERS = {"k1": 1.2, "b": 0.75}  # Elasticsearch's, and the only ones tantivy scores with
BM25_SCALING_FACTOR = 8  # as Haystack's InMemoryDocumentStore: scale_score maps a raw score s to expit(s / 8)
_WRITER_HEAP_BYTES = 50_000_000  # tantivy's indexing buffer of one write batch (its floor is 15 MB)
_WRITER_WAIT_SECONDS = 0.05  # how often a writer asks again for the lock another process holds
_FILTER_MASKS_KEPT = 64
_DOCUMENTS_KEPT = 20_000  # documents read from the index kept parsed, until the next change (~1.5 kB each)
_FILTER_PAGE = 200  # candidates read at a time when filters must be evaluated on them

# The fields of a chunk in the index: its id (a whole term, for overwrite and delete), the analysed terms of its
# content and indexed metadata (term frequencies, no positions), and the Haystack document itself (stored only).
_ID, _TERMS, _DOCUMENT = "id", "terms", "document"
_ANALYSIS_FILE = "analysis.json"  # the analysis the terms were made with


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field(_ID, stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field(_TERMS, stored=False, tokenizer_name="raw", index_option="freq")
    builder.add_bytes_field(_DOCUMENT, stored=True)
    return builder.build()


class LocalBM25DocumentStore:
    """
    A BM25 document store in the process, kept in a tantivy index (a folder of segments), with French analysis.

    Documents are analysed by `FrenchAnalyzer` (elision, lower case, stop words, Snowball stem, ASCII folding, codes
    and references kept whole) and their terms indexed as they are by tantivy, which scores them with Lucene's BM25
    (k1 1.2, b 0.75, as Elasticsearch). A write batch adds one segment (merged in the background) instead of
    rewriting the store. One process writes at a time (tantivy's writer lock; the others wait for it); any number of
    processes read, and see a write as soon as it is committed (the next operation reloads the index when its
    `meta.json` changed). Embeddings are not kept: this store only serves BM25 retrieval, through `LocalBM25Retriever`.

    A folder holding only the JSON file of earlier versions (`<path>.json`) is imported on first use.
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
        :param path: The folder of the index; created on the first write.
        :param bm25_algorithm: "lucene", the BM25 of Lucene and Elasticsearch (the only one tantivy has).
        :param bm25_parameters: `k1`, `b`: tantivy's are fixed to Elasticsearch's `{"k1": 1.2, "b": 0.75}`.
        :param stemmer: The Snowball stemmer of the analysis ("french"), or "none".
        :param meta_fields_to_index: Metadata fields whose text is searched with the content (default: `title`).
        :param codes_boost: Extra weight of the query's codes (`A2458`, `NF P 98-331`) found whole in a document, as
            in the Elasticsearch store: a code's BM25 score counts `1 + codes_boost` times.
        """
        if bm25_algorithm not in BM25_ALGORITHMS:
            msg = f"bm25_algorithm must be one of {', '.join(BM25_ALGORITHMS)}, not {bm25_algorithm!r}"
            raise ValueError(msg)
        parameters = bm25_parameters or {}
        if {**BM25_DEFAULT_PARAMETERS, **parameters} != BM25_DEFAULT_PARAMETERS:
            msg = f"bm25_parameters: tantivy scores with k1 1.2 and b 0.75 only, not {parameters}"
            raise ValueError(msg)
        self.path = path
        self.bm25_algorithm = bm25_algorithm
        self.bm25_parameters = parameters
        self.stemmer = stemmer
        self.meta_fields_to_index = ["title"] if meta_fields_to_index is None else list(meta_fields_to_index)
        self.codes_boost = codes_boost
        self._analyzer = FrenchAnalyzer(stemmer=stemmer)
        self._schema = _schema()
        self._lock = threading.RLock()
        self._index: tantivy.Index | None = None
        self._searcher: tantivy.Searcher | None = None
        self._loaded_signature: tuple[int, int, int] | None = None
        self._analysis_checked = False
        self._writing = False
        self._filter_masks: OrderedDict[str, dict[tuple[int, int], bool]] = OrderedDict()
        self._documents_read: OrderedDict[tuple[int, int], Document] = OrderedDict()
        if Path(path).is_file():
            msg = f"{path} is a file: the BM25 store's path is a folder (an earlier version's JSON is <folder>.json)"
            raise ValueError(msg)

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

    # --- the index on disk ----------------------------------------------------------------------------------------

    @property
    def _legacy_path(self) -> Path:
        return Path(f"{self.path}.json")

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(Path(self.path) / "meta.json")
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _current(self) -> tantivy.Searcher | None:
        """The index as last committed by any process (reloaded when its `meta.json` changed); None before any."""
        with self._lock:
            if self._index is None and self._legacy_path.is_file():
                with self._writer():  # imports the earlier version's file
                    pass
            signature = self._signature()
            if signature is None:
                return None
            if not self._analysis_checked:
                self._analysis_checked = True
                if self._stored_analysis() != self._analysis():
                    with self._writer():  # analyses the documents again
                        pass
                    signature = self._signature()
            if signature != self._loaded_signature:
                if self._index is None:
                    self._index = tantivy.Index.open(self.path)
                    self._index.config_reader(reload_policy="manual")
                self._index.reload()
                self._searcher = self._index.searcher()
                self._loaded_signature = signature
                self._filter_masks.clear()
                self._documents_read.clear()
            return self._searcher

    @contextmanager
    def _writer(self) -> Iterator[tantivy.IndexWriter]:
        """The index's only writer, once another process has committed; what the caller adds is committed at exit."""
        with self._lock:
            if self._writing:
                msg = "LocalBM25DocumentStore: a write within a write would wait for itself"
                raise RuntimeError(msg)
            folder = Path(self.path)
            if self._index is None:
                folder.mkdir(parents=True, exist_ok=True)
                self._index = tantivy.Index(self._schema, path=str(folder), reuse=True)
                self._index.config_reader(reload_policy="manual")
            writer = self._acquire_writer(self._index)
            committed, self._writing = False, True
            try:
                self._import_legacy_file(writer)
                self._analyse_again_if_changed(writer)
                yield writer
                writer.commit()
                committed = True
            finally:
                if not committed:
                    writer.rollback()
                writer.wait_merging_threads()  # finishes the merges this commit started and frees the lock
                self._writing = False
            for name in ("meta.json", ".managed.json"):  # tantivy writes them private; the store is no secret
                (folder / name).chmod(0o644)
            self._loaded_signature = None  # reload at the next read

    def _acquire_writer(self, index: tantivy.Index) -> tantivy.IndexWriter:
        waited = 0.0
        while True:
            try:
                return index.writer(heap_size=_WRITER_HEAP_BYTES, num_threads=1)
            except ValueError as e:
                if "LockBusy" not in str(e):
                    raise
            if waited == 0:
                logger.info("BM25 store {path}: waiting for another writer", path=self.path)
            time.sleep(_WRITER_WAIT_SECONDS)
            waited += _WRITER_WAIT_SECONDS

    def _import_legacy_file(self, writer: tantivy.IndexWriter) -> None:
        """Moves the documents of an earlier version's JSON file (`<path>.json`) into the index, once."""
        legacy = self._legacy_path
        if not legacy.is_file():
            return
        try:
            with open(legacy, encoding="utf-8") as f:
                documents = [Document.from_dict(d) for d in json.load(f)["documents"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            msg = f"{legacy}: cannot import the BM25 store of an earlier version ({e}); move or delete it"
            raise ValueError(msg) from e
        logger.info(
            "BM25 store {path}: importing {count} documents from {legacy}",
            path=self.path,
            count=len(documents),
            legacy=legacy,
        )
        for doc in documents:
            writer.delete_documents_by_term(_ID, doc.id)
            writer.add_document(self._tantivy_document(doc))
        writer.commit()
        self._save_analysis()  # the terms just written are of this analysis
        legacy.rename(legacy.with_name(f"{legacy.name}.imported"))

    def _analysis(self) -> dict[str, Any]:
        return {"stemmer": self.stemmer, "meta_fields_to_index": self.meta_fields_to_index}

    def _stored_analysis(self) -> dict[str, Any] | None:
        try:
            return json.loads((Path(self.path) / _ANALYSIS_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def _analyse_again_if_changed(self, writer: tantivy.IndexWriter) -> None:
        """The terms of the index are those of one analysis: another one (stemmer, fields) re-indexes every document."""
        self._analysis_checked = True
        if self._stored_analysis() == self._analysis():
            return
        self._loaded_signature = None
        documents = list(self._all(self._current()))
        if documents:
            logger.warning(
                "BM25 store {path}: analysis changed to {analysis}, indexing its {count} documents again",
                path=self.path,
                analysis=self._analysis(),
                count=len(documents),
            )
        for doc in documents:
            writer.delete_documents_by_term(_ID, doc.id)
            writer.add_document(self._tantivy_document(doc))
        writer.commit()
        self._save_analysis()

    def _save_analysis(self) -> None:
        target = Path(self.path) / _ANALYSIS_FILE
        temporary = target.with_name(f".{_ANALYSIS_FILE}.tmp")
        temporary.write_text(json.dumps(self._analysis()), encoding="utf-8")
        temporary.chmod(0o644)
        temporary.replace(target)

    # --- documents in and out -------------------------------------------------------------------------------------

    def _indexed_texts(self, doc: Document) -> list[str]:
        texts = [doc.content or ""]
        for field in self.meta_fields_to_index:
            value = doc.meta.get(field)
            values = value if isinstance(value, list) else [value]
            texts.extend(v for v in values if isinstance(v, str))
        return texts

    def _tantivy_document(self, doc: Document) -> tantivy.Document:
        stored = replace(doc, embedding=None, score=None)
        entry = tantivy.Document()
        entry.add_text(_ID, doc.id)
        if doc.content is not None:
            terms = [t for text in self._indexed_texts(doc) for t in self._analyzer.tokens(text)]
            tokens = [tantivy.Token(term, position, 0, 0) for position, term in enumerate(terms)]
            entry.add_pre_tokenized_text(_TERMS, tantivy.PreTokenizedString("", tokens))
        entry.add_bytes(_DOCUMENT, json.dumps(stored.to_dict(flatten=False), ensure_ascii=False).encode())
        return entry

    def _document(self, searcher: tantivy.Searcher, address: tantivy.DocAddress) -> Document:
        """The document at `address` of the current searcher; the last ones read are kept (parsing costs most)."""
        key = (address.segment_ord, address.doc)
        doc = self._documents_read.get(key)
        if doc is None:
            doc = Document.from_dict(json.loads(searcher.doc(address).get_first(_DOCUMENT)))
            self._documents_read[key] = doc
            if len(self._documents_read) > _DOCUMENTS_KEPT:
                self._documents_read.popitem(last=False)
        else:
            self._documents_read.move_to_end(key)
        return doc

    def _all(self, searcher: tantivy.Searcher | None) -> Iterator[Document]:
        if searcher is None or searcher.num_docs == 0:
            return
        hits = searcher.search(tantivy.Query.all_query(), limit=searcher.num_docs, count=False).hits
        for _, address in sorted(hits, key=lambda hit: (hit[1].segment_ord, hit[1].doc)):
            yield self._document(searcher, address)

    def _existing_ids(self, searcher: tantivy.Searcher | None, ids: list[str]) -> set[str]:
        if searcher is None or not ids:
            return set()
        query = tantivy.Query.term_set_query(self._schema, _ID, ids)
        hits = searcher.search(query, limit=len(ids), count=False).hits
        return {searcher.doc(address).get_first(_ID) for _, address in hits}

    # --- BM25 -----------------------------------------------------------------------------------------------------

    def _filter_matches(self, filters: dict[str, Any]) -> dict[tuple[int, int], bool]:
        """Per document address of the current searcher: whether it matches `filters` (kept for the next queries)."""
        key = json.dumps(filters, sort_keys=True, default=str)
        matches = self._filter_masks.get(key)
        if matches is None:
            matches = {}
            self._filter_masks[key] = matches
            if len(self._filter_masks) > _FILTER_MASKS_KEPT:
                self._filter_masks.popitem(last=False)
        else:
            self._filter_masks.move_to_end(key)
        return matches

    def term_statistics(self, text: str) -> tuple[int, dict[str, int]]:
        """How many documents the store holds, and how many hold each analysed term of `text` (BM25's own counts)."""
        terms = list(dict.fromkeys(self._analyzer.tokens(text)))
        with self._lock:
            searcher = self._current()
            if searcher is None:
                return 0, dict.fromkeys(terms, 0)
            return searcher.num_docs, {term: searcher.doc_freq(_TERMS, term) for term in terms}

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
        terms = self._analyzer.tokens(query)
        if top_k <= 0 or not terms:
            return []
        clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, _TERMS, t)) for t in terms]
        if self.codes_boost:
            for code in dict.fromkeys(self._analyzer.codes(query)):
                term = tantivy.Query.term_query(self._schema, _TERMS, code)
                clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(term, self.codes_boost)))
        bm25_query = tantivy.Query.boolean_query(clauses)
        with self._lock:
            searcher = self._current()
            if searcher is None:
                return []
            if not filters:
                hits = searcher.search(bm25_query, limit=top_k, count=False).hits
                found = [(score, self._document(searcher, address)) for score, address in hits]
            else:
                found = self._first_matching(searcher, bm25_query, filters, top_k)
        # tantivy's BM25 is Lucene's times (k1 + 1), a constant: divided out to give the scores of Elasticsearch
        scores = [score / (1 + BM25_DEFAULT_PARAMETERS["k1"]) for score, _ in found]
        return [
            replace(doc, score=expit(score / BM25_SCALING_FACTOR) if scale_score else score)
            for score, (_, doc) in zip(scores, found, strict=True)
        ]

    def _first_matching(
        self, searcher: tantivy.Searcher, query: tantivy.Query, filters: dict[str, Any], top_k: int
    ) -> list[tuple[float, Document]]:
        """The first `top_k` documents by score that match `filters`, reading the ranking a page at a time."""
        matches = self._filter_matches(filters)
        kept: list[tuple[float, Document]] = []
        offset, page = 0, max(_FILTER_PAGE, 4 * top_k)
        while True:
            hits = searcher.search(query, limit=page, offset=offset, count=False).hits
            for score, address in hits:
                key = (address.segment_ord, address.doc)
                matched = matches.get(key)
                doc = None
                if matched is None:
                    doc = self._document(searcher, address)
                    matched = matches[key] = document_matches_filter(filters, doc)
                if matched:
                    kept.append((score, doc or self._document(searcher, address)))
                    if len(kept) == top_k:
                        return kept
            if len(hits) < page:
                return kept
            offset += page

    def warm_up(self) -> None:
        """Open the index now rather than at the first query (and import an earlier version's file)."""
        self._current()

    async def bm25_retrieval_async(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int = 10, scale_score: bool = False
    ) -> list[Document]:
        """`bm25_retrieval` in a worker thread."""
        return await asyncio.to_thread(self.bm25_retrieval, query, filters, top_k, scale_score)

    # --- the DocumentStore protocol -------------------------------------------------------------------------------

    def count_documents(self) -> int:
        with self._lock:
            searcher = self._current()
            return 0 if searcher is None else searcher.num_docs

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """
        :param filters: Haystack metadata filters; all documents when `None`.
        :returns: The stored documents that match.
        """
        _validate_filters(filters)
        with self._lock:
            documents = self._all(self._current())
            if not filters:
                return list(documents)
            return [d for d in documents if document_matches_filter(filters, d)]

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
        if not documents:
            return 0
        entries = [self._tantivy_document(doc) for doc in documents]  # the analysis, before taking the lock
        with self._writer() as writer:
            stored = set()
            if policy != DuplicatePolicy.OVERWRITE:
                self._loaded_signature = None
                stored = self._existing_ids(self._current(), list({d.id for d in documents}))
            seen: set[str] = set()
            for doc in documents:
                if (doc.id in stored or doc.id in seen) and policy == DuplicatePolicy.FAIL:
                    msg = f"ID '{doc.id}' already exists."
                    raise DuplicateDocumentError(msg)
                seen.add(doc.id)
            written, seen = 0, set()
            for doc, entry in zip(documents, entries, strict=True):
                if policy == DuplicatePolicy.SKIP and (doc.id in stored or doc.id in seen):
                    logger.warning("ID '{document_id}' already exists", document_id=doc.id)
                    continue
                seen.add(doc.id)
                if policy == DuplicatePolicy.OVERWRITE:
                    writer.delete_documents_by_term(_ID, doc.id)  # also an earlier one of this batch
                writer.add_document(entry)
                written += 1
            return written

    def delete_documents(self, document_ids: list[str]) -> None:
        """:param document_ids: The ids to delete; unknown ids are ignored."""
        with self._writer() as writer:
            for document_id in document_ids:
                writer.delete_documents_by_term(_ID, document_id)

    def delete_all_documents(self) -> None:
        with self._writer() as writer:
            writer.delete_all_documents()

    def update_by_filter(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """
        :param filters: Which documents to update.
        :param meta: Metadata merged into theirs.
        :returns: How many documents were updated.
        """
        _validate_filters(filters)
        with self._writer() as writer:
            self._loaded_signature = None
            matching = [d for d in self._all(self._current()) if document_matches_filter(filters, d)]
            for doc in matching:
                writer.delete_documents_by_term(_ID, doc.id)
                writer.add_document(self._tantivy_document(replace(doc, meta={**doc.meta, **meta})))
            return len(matching)

    def delete_by_filter(self, filters: dict[str, Any]) -> int:
        """
        :param filters: Which documents to delete.
        :returns: How many documents were deleted.
        """
        _validate_filters(filters)
        with self._writer() as writer:
            self._loaded_signature = None
            matching = [d.id for d in self._all(self._current()) if document_matches_filter(filters, d)]
            for document_id in matching:
                writer.delete_documents_by_term(_ID, document_id)
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
