"""A document store on Qdrant Edge: the Qdrant engine in the process, on disk, for the embedded default."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from math import exp, inf
from pathlib import Path
from typing import Any, ClassVar

import qdrant_edge as edge
from haystack import Document, default_from_dict, default_to_dict, logging
from haystack.document_stores.errors import DocumentStoreError, DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.document_stores.qdrant.converters import (
    convert_id,
    convert_qdrant_point_to_haystack_document,
)
from qdrant_client.http import models

from components.document_stores.qdrant_edge.filters import convert_filters_to_edge

logger = logging.getLogger(__name__)

EDGE_CONFIG_FILE = "edge_config.json"  # written by Qdrant Edge in a shard's folder


class QdrantEdgeStoreError(DocumentStoreError):
    """The shard cannot be opened or refused an operation; the message says why."""


class QdrantEdgeDocumentStore:
    """
    Documents in a Qdrant Edge shard (`qdrant-edge-py`): the Qdrant engine itself, in the process, on disk (segments,
    write-ahead log, HNSW and payload indexes), without a server.

    Documents are stored as `QdrantDocumentStore` stores them (the payload is the document's dict without its
    embedding, the point id is qdrant-haystack's UUID of the document id) and filters mean what they mean there
    (`filters.py`), so the embedded default and a Qdrant server answer alike. The shard is `<path>/<index>`; Qdrant
    Edge locks it, so one store instance per process opens it (`service.store_registry` shares it between graphs)
    and a second process cannot open it while the first runs. It is opened at the first use, not at construction.
    Every method may be called from several threads: the engine searches concurrently, writes are serialised here.

    After each write or delete, and when the shard is opened, the engine's optimizer runs (`EdgeShard.optimize`):
    a segment grown past Qdrant's indexing threshold (about 6,600 vectors of 384 floats) gets its HNSW index,
    deleted points are vacuumed; smaller segments are searched exactly. It runs in the writing call, not in a
    thread of its own: qdrant-edge-py 0.9.0 holds the GIL while it optimizes (and while it searches), so a
    background optimizer would pause the process's other threads just the same.
    """

    SIMILARITY: ClassVar[dict[str, str]] = {"cosine": "Cosine", "dot_product": "Dot", "l2": "Euclid"}  # Distance

    def __init__(
        self,
        path: str,
        index: str = "Document",
        embedding_dim: int = 768,
        similarity: str = "cosine",
        *,
        return_embedding: bool = False,
        payload_fields_to_index: list[dict[str, str]] | None = None,
        hnsw_ef: int | None = None,
        migrate_from: str | None = None,
        scroll_size: int = 10_000,
        flush_interval: float = 1.0,
    ) -> None:
        """
        :param path: The folder holding the shards; this store's shard is `<path>/<index>`, created at first use.
        :param index: The shard's name (the Qdrant collection name).
        :param embedding_dim: The dimension of the embeddings.
        :param similarity: "cosine", "dot_product" or "l2", as in `QdrantDocumentStore`; fixed when the shard is
            created.
        :param return_embedding: Whether retrieved documents carry their embedding.
        :param payload_fields_to_index: Payload indexes created with the shard, as in `QdrantDocumentStore`:
            `[{"field_name": "meta.file_path", "field_schema": "keyword"}]` (a `PayloadSchemaType` name in any case).
        :param hnsw_ef: The HNSW search width (Qdrant's default when `None`); segments too small for HNSW are
            searched exactly whatever it is.
        :param migrate_from: A folder of qdrant-client's local mode (`QdrantDocumentStore(path=...)`): when the shard
            does not exist yet and this folder holds the collection `index`, its points are copied into the new
            shard at first use (the folder itself is left as it was).
        :param scroll_size: Documents read per step by `filter_documents`.
        :param flush_interval: Seconds between two flushes after writes (the segments written whole to disk, the
            write-ahead log let go); 0: after every write. A process that ends without closing the store (killed, out
            of memory; a multiprocessing pool's worker, which exits without cleaning up) leaves what it wrote since
            its last flush for the next process to replay and optimise again: after 100k chunks written that way
            (`bench/scale.py`), the next process to open the shard used 7.3 GB, and 1.7 GB with the flush. 60k
            random vectors written by 500 then a hard exit: flushing after every write took 53.6 s instead
            of 41.7 s (writes still ~100x faster than the embedder), and the next open 0.1 s / 0.5 GB instead of
            7.4 s / 1.8 GB. One second bounds both.
        """
        if similarity not in self.SIMILARITY:
            msg = f"similarity must be one of {', '.join(self.SIMILARITY)}, not {similarity!r}"
            raise ValueError(msg)
        if embedding_dim <= 0:
            msg = f"embedding_dim must be greater than 0, not {embedding_dim}"
            raise ValueError(msg)
        if flush_interval < 0:
            msg = f"flush_interval is seconds, 0 or more, not {flush_interval}"
            raise ValueError(msg)
        self.path = path
        self.index = index
        self.embedding_dim = embedding_dim
        self.similarity = similarity
        self.return_embedding = return_embedding
        self.payload_fields_to_index = payload_fields_to_index
        self.hnsw_ef = hnsw_ef
        self.migrate_from = migrate_from
        self.scroll_size = scroll_size
        self.flush_interval = flush_interval
        self._flushed_at = -inf  # when this process last flushed the shard (time.monotonic)
        self._payload_indexes = [_payload_index(spec) for spec in payload_fields_to_index or []]
        self._shard: edge.EdgeShard | None = None
        self._open_lock = threading.Lock()
        self._write_lock = threading.Lock()

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            path=self.path,
            index=self.index,
            embedding_dim=self.embedding_dim,
            similarity=self.similarity,
            return_embedding=self.return_embedding,
            payload_fields_to_index=self.payload_fields_to_index,
            hnsw_ef=self.hnsw_ef,
            migrate_from=self.migrate_from,
            scroll_size=self.scroll_size,
            flush_interval=self.flush_interval,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QdrantEdgeDocumentStore:
        return default_from_dict(cls, data)

    # --- the shard ------------------------------------------------------------------------------------------------

    @property
    def shard_path(self) -> Path:
        return Path(self.path) / self.index

    def _config(self) -> edge.EdgeConfig:
        vectors = edge.EdgeVectorParams(
            size=self.embedding_dim, distance=getattr(edge.Distance, self.SIMILARITY[self.similarity])
        )
        return edge.EdgeConfig(vectors=vectors)

    def _open(self) -> edge.EdgeShard:
        shard = self._shard
        if shard is not None:
            return shard
        with self._open_lock:
            if self._shard is None:
                self._shard = self._load_or_create()
                self._shard.optimize()  # what a process that ended (or a migration) left unoptimized
            return self._shard

    def _load_or_create(self) -> edge.EdgeShard:
        target = self.shard_path
        if not (target / EDGE_CONFIG_FILE).is_file():
            self._create(target)
        self._check_compatible(target)
        try:
            return edge.EdgeShard.load(str(target))
        except Exception as e:
            raise QdrantEdgeStoreError(_explain_open_error(target, e)) from e

    def _create(self, target: Path) -> None:
        """A new shard (filled from `migrate_from` if it holds the collection), built aside and then renamed."""
        target.parent.mkdir(parents=True, exist_ok=True)
        building = target.with_name(f".{target.name}.creating")
        shutil.rmtree(building, ignore_errors=True)
        try:
            shard = edge.EdgeShard.create(str(building), self._config())
        except Exception as e:
            raise QdrantEdgeStoreError(_explain_open_error(building, e)) from e
        try:
            for spec in self._payload_indexes:
                shard.update(edge.UpdateOperation.create_field_index(*spec))
            if self.migrate_from and _local_collection_exists(Path(self.migrate_from), self.index):
                self._migrate(shard)
            shard.flush()
        finally:
            shard.close()
        building.rename(target)

    def _migrate(self, shard: edge.EdgeShard) -> None:
        """Copy the points of qdrant-client's local mode (`migrate_from`) into the new shard, ids and payloads as
        they are."""
        from qdrant_client import QdrantClient  # noqa: PLC0415 - only for a migration

        source = Path(str(self.migrate_from))
        logger.info(
            "Copying the Qdrant local-mode collection {index} of {source} into the Qdrant Edge shard {target}",
            index=self.index,
            source=source,
            target=self.shard_path,
        )
        try:
            client = QdrantClient(path=str(source))
        except Exception as e:  # another process holds the local-mode folder
            msg = f"cannot read the Qdrant local-mode folder {source} to migrate it ({e}); stop the process using it"
            raise QdrantEdgeStoreError(msg) from e
        copied, offset = 0, None
        try:
            while True:
                records, offset = client.scroll(
                    self.index, limit=1000, offset=offset, with_payload=True, with_vectors=True
                )
                points = [edge.Point(str(r.id), r.vector or {}, r.payload or {}) for r in records]
                if points:
                    shard.update(edge.UpdateOperation.upsert_points(points))
                copied += len(points)
                if offset is None:
                    break
        finally:
            client.close()
        logger.info(
            "Migrated {count} points to Qdrant Edge; {source} is no longer used and can be deleted",
            count=copied,
            source=source,
        )

    def _check_compatible(self, target: Path) -> None:
        try:
            vectors = json.loads((target / EDGE_CONFIG_FILE).read_text(encoding="utf-8"))["vectors"][""]
            size, distance = int(vectors["size"]), str(vectors["distance"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            msg = f"{target} is not a readable Qdrant Edge shard ({e}); move it away and index again"
            raise QdrantEdgeStoreError(msg) from e
        expected = self.SIMILARITY[self.similarity]
        if size != self.embedding_dim or distance != expected:
            msg = (
                f"the Qdrant Edge shard {target} holds {size}-dimension vectors compared by {distance}, but this "
                f"store is configured for {self.embedding_dim} dimensions and {expected}: index again into a new "
                "data folder (or delete this one)"
            )
            raise QdrantEdgeStoreError(msg)

    def warm_up(self) -> None:
        """Open the shard now rather than at the first query."""
        self._open()

    def close(self) -> None:
        """Close the shard and release its lock (the store reopens it at its next use)."""
        with self._open_lock, self._write_lock:
            if self._shard is not None:
                self._shard.close()
                self._shard = None

    def _update(self, operation: edge.UpdateOperation) -> None:
        shard = self._open()
        try:
            shard.update(operation)
        except Exception as e:
            msg = f"Qdrant Edge refused the update: {e}"
            raise QdrantEdgeStoreError(msg) from e
        shard.optimize()  # new points to index, deleted ones to vacuum: nothing to do costs ~0.1 ms
        if time.monotonic() - self._flushed_at >= self.flush_interval:
            shard.flush()
            self._flushed_at = time.monotonic()

    # --- the DocumentStore protocol -------------------------------------------------------------------------------

    def count_documents(self) -> int:
        return self._open().count(edge.CountRequest(exact=True))

    def count_documents_by_filter(self, filters: dict[str, Any]) -> int:
        _validate_filters(filters)
        return self._open().count(edge.CountRequest(exact=True, filter=convert_filters_to_edge(filters)))

    def filter_documents(self, filters: dict[str, Any] | models.Filter | None = None) -> list[Document]:
        """
        :param filters: Haystack metadata filters (or a native `qdrant_client` filter); all documents when `None`.
        :returns: The stored documents that match, with their embeddings.
        """
        _validate_filters(filters)
        edge_filter = convert_filters_to_edge(filters)
        shard = self._open()
        documents: list[Document] = []
        offset = None
        while True:
            request = edge.ScrollRequest(
                offset=offset, limit=self.scroll_size, filter=edge_filter, with_payload=True, with_vector=True
            )
            records, offset = shard.scroll(request)
            documents.extend(_to_document(record) for record in records)
            if offset is None:
                return documents

    def write_documents(self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.FAIL) -> int:
        """
        Writes the documents as `QdrantDocumentStore` does: FAIL (the default) and SKIP check the ids already stored,
        OVERWRITE and NONE replace them.

        :param documents: The documents, with embeddings of `embedding_dim` (or none).
        :param policy: What to do with an id already stored.
        :returns: How many documents were written.
        :raises DuplicateDocumentError: An id is already stored and the policy is FAIL.
        """
        if not isinstance(documents, list) or any(not isinstance(d, Document) for d in documents):
            msg = "Please provide a list of Documents."
            raise ValueError(msg)
        if not documents:
            return 0
        for doc in documents:
            if doc.embedding is not None and len(doc.embedding) != self.embedding_dim:
                msg = (
                    f"document {doc.id} has a {len(doc.embedding)}-dimension embedding; this store holds "
                    f"{self.embedding_dim} dimensions"
                )
                raise ValueError(msg)
        with self._write_lock:
            if policy in (DuplicatePolicy.FAIL, DuplicatePolicy.SKIP):
                documents = list({doc.id: doc for doc in reversed(documents)}.values())[::-1]  # first of each id
                stored = self._stored_ids([doc.id for doc in documents])
                if stored and policy == DuplicatePolicy.FAIL:
                    msg = f"Document with ids '{', '.join(sorted(stored))}' already exists in index = '{self.index}'."
                    raise DuplicateDocumentError(msg)
                documents = [doc for doc in documents if doc.id not in stored]
            if documents:
                self._update(edge.UpdateOperation.upsert_points([_to_point(doc) for doc in documents]))
            return len(documents)

    def _stored_ids(self, document_ids: list[str]) -> set[str]:
        by_point = {convert_id(document_id): document_id for document_id in document_ids}
        records = self._open().retrieve(list(by_point), False, False)
        return {by_point[record.id.hex] for record in records}

    def delete_documents(self, document_ids: list[str]) -> None:
        """:param document_ids: The ids to delete; unknown ids are ignored."""
        if document_ids:
            with self._write_lock:
                self._update(edge.UpdateOperation.delete_points([convert_id(i) for i in document_ids]))

    def delete_by_filter(self, filters: dict[str, Any]) -> int:
        """
        :param filters: Which documents to delete.
        :returns: How many documents were deleted.
        """
        return self._update_by_filter(filters, edge.UpdateOperation.delete_points_by_filter)

    def delete_all_documents(self) -> None:
        with self._write_lock:
            self._update(edge.UpdateOperation.delete_points_by_filter(edge.Filter()))

    def update_by_filter(self, filters: dict[str, Any], meta: dict[str, Any]) -> int:
        """
        :param filters: Which documents to update.
        :param meta: Metadata merged into theirs.
        :returns: How many documents were updated.
        """
        return self._update_by_filter(
            filters, lambda edge_filter: edge.UpdateOperation.set_payload_by_filter(edge_filter, meta, key="meta")
        )

    def _update_by_filter(self, filters: dict[str, Any], operation: Callable[[Any], Any]) -> int:
        """Applies `operation(filter)` to the documents that match `filters`; returns how many matched."""
        _validate_filters(filters)
        edge_filter = convert_filters_to_edge(filters)
        if edge_filter is None:
            return 0
        with self._write_lock:
            count = self._open().count(edge.CountRequest(exact=True, filter=edge_filter))
            self._update(operation(edge_filter))
            return count

    # --- retrieval ------------------------------------------------------------------------------------------------

    def _query_by_embedding(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | models.Filter | None = None,
        *,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool = False,
        score_threshold: float | None = None,
    ) -> list[Document]:
        """
        The documents nearest `query_embedding`, best first, as `QdrantDocumentStore._query_by_embedding` returns
        them (same scores, same `scale_score`).

        :param query_embedding: The query's embedding, of `embedding_dim`.
        :param filters: Haystack metadata filters (or a native `qdrant_client` filter).
        :param top_k: How many documents at most.
        :param scale_score: Scores mapped to (0, 1): `(s + 1) / 2` for cosine, a sigmoid of `s / 100` otherwise.
        :param return_embedding: Whether the documents carry their embedding.
        :param score_threshold: The lowest score kept.
        :returns: The documents, with their score.
        """
        if len(query_embedding) != self.embedding_dim:
            msg = f"the query embedding has {len(query_embedding)} dimensions; this store holds {self.embedding_dim}"
            raise ValueError(msg)
        edge_filter = convert_filters_to_edge(filters)
        if top_k <= 0:
            return []
        request = edge.QueryRequest(
            limit=top_k,
            query=edge.Query.Nearest([float(x) for x in query_embedding]),
            filter=edge_filter,
            with_payload=True,
            with_vector=return_embedding,
            score_threshold=score_threshold,
            params=None if self.hnsw_ef is None else edge.SearchParams(hnsw_ef=self.hnsw_ef),
        )
        documents = [_to_document(point) for point in self._open().query(request)]
        if scale_score:
            documents = [replace(doc, score=self._scaled(doc.score)) for doc in documents]
        return documents

    def _scaled(self, score: float | None) -> float | None:
        if score is None:
            return None
        return (score + 1) / 2 if self.similarity == "cosine" else float(1 / (1 + exp(-score / 100)))

    # --- async: the same in a worker thread ------------------------------------------------------------------------

    async def count_documents_async(self) -> int:
        return await asyncio.to_thread(self.count_documents)

    async def filter_documents_async(self, filters: dict[str, Any] | None = None) -> list[Document]:
        return await asyncio.to_thread(self.filter_documents, filters)

    async def write_documents_async(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.FAIL
    ) -> int:
        return await asyncio.to_thread(self.write_documents, documents, policy)

    async def delete_documents_async(self, document_ids: list[str]) -> None:
        await asyncio.to_thread(self.delete_documents, document_ids)

    async def _query_by_embedding_async(self, query_embedding: list[float], **kwargs: Any) -> list[Document]:
        return await asyncio.to_thread(self._query_by_embedding, query_embedding, **kwargs)


def _to_point(document: Document) -> edge.Point:
    """qdrant-haystack's point: the document's dict without its embedding (left out before `to_dict`, which would
    copy its floats one by one), the embedding as the vector."""
    payload = replace(document, embedding=None).to_dict(flatten=False)
    del payload["embedding"]
    return edge.Point(convert_id(document.id), document.embedding or {}, payload)


def _to_document(point: Any) -> Document:
    document = convert_qdrant_point_to_haystack_document(point, use_sparse_embeddings=False)
    return document if document.embedding else replace(document, embedding=None)  # a point without a vector: {}


def _payload_index(spec: dict[str, str]) -> tuple[str, edge.PayloadSchemaType]:
    try:
        field, schema = spec["field_name"], str(spec["field_schema"])
    except (KeyError, TypeError):
        msg = f"a payload index is {{field_name: ..., field_schema: ...}}, not {spec!r}"
        raise ValueError(msg) from None
    names = {name.lower(): name for name in _SCHEMA_TYPES}
    if schema.lower() not in names:
        msg = f"field_schema of {field} must be one of {', '.join(names)}, not {schema!r}"
        raise ValueError(msg)
    return field, getattr(edge.PayloadSchemaType, names[schema.lower()])


_SCHEMA_TYPES = ("Keyword", "Integer", "Float", "Geo", "Text", "Bool", "Datetime", "Uuid")


def _local_collection_exists(folder: Path, index: str) -> bool:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        return index in meta["collections"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _explain_open_error(target: Path, error: Exception) -> str:
    if "WouldBlock" in str(error):
        return (
            f"the Qdrant Edge shard {target} is open in another process (or another store instance of this one); "
            "stop that process, or hand it the files to index"
        )
    return f"cannot open the Qdrant Edge shard {target}: {error}"


def _validate_filters(filters: dict[str, Any] | models.Filter | None) -> None:
    if filters and not isinstance(filters, dict | models.Filter):
        msg = "Filter must be a dictionary or an instance of `qdrant_client.http.models.Filter`"
        raise ValueError(msg)
    if filters and isinstance(filters, dict) and "operator" not in filters:
        msg = "Invalid filter syntax. See https://docs.haystack.deepset.ai/docs/metadata-filtering for details."
        raise ValueError(msg)
