"""The documents of the index, one per file the manifest knows: list them, show one with its chunks, delete one,
index one again.

Plain functions over the manifest and the indexing graph's own stores, with no web framework: the service's
`/documents` routes (service/documents.py) and `rag documents` (service/cli.py) call the same ones.

- **Id**: the first 16 hex digits of the SHA-256 of the file's manifest key (its absolute path): stable across runs,
  processes and replicas, and it says nothing of the server's folders.
- **Source**: the name shown to users, relative to the folder that was indexed (`FileEntry.source`, written at
  indexing; for a manifest written before it, the source its chunks hold, else the file name).
- **Access**: `scope` is the caller's Haystack filter (`service.gateway.access.scope_for`); None allows every
  document. A document is visible when at least one of its chunks matches the scope. A document without chunks
  (skipped, without text, failed) is visible only to callers whose scope is unrestricted (None). A document outside
  the scope is answered exactly as an unknown id (`DocumentNotFoundError`): its existence is not revealed.
- **Changes** (`delete_document`, `reindex_document`) wait for any indexing run on the same data folder and never
  interleave with one (the manifest's lock, `one_run_at_a_time`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from haystack import Document

from components.preprocessors.document_metadata_resolver import SIDECAR_SUFFIXES
from components.retrievers.access_scope import and_filters
from indexing.index_files import Indexer, _file_filter, _writer_stores, manifest_path, one_run_at_a_time
from indexing.manifest import FILE_STATUSES, FileEntry, Manifest
from service.gateway.cache import bump_index_generation

logger = logging.getLogger(__name__)

ID_LENGTH = 16
DEFAULT_LIMIT = 50
MAX_LIMIT = 500

DELETE_NOTE = (
    "Its chunks and its manifest entry were removed; the file itself was not deleted: the next `rag index` of its "
    "folder indexes it again unless it is removed or moved from there."
)
DELETE_UPLOAD_NOTE = (
    "Its chunks, its manifest entry and the uploaded file with its metadata sidecar were deleted (the service keeps "
    "uploaded files itself)."
)


class InvalidRequestError(ValueError):
    """A bad offset, limit or status (422)."""


class DocumentNotFoundError(LookupError):
    """No document with this id, or none the caller may see (404)."""


class DocumentConflictError(RuntimeError):
    """The document cannot be indexed again as it is (its file is gone, or reached through a link) (409)."""


class StoreUnavailableError(RuntimeError):
    """A document store cannot be read or changed now; the message is safe to show to the caller (503)."""


def document_id(key: str) -> str:
    """A document's id: the first 16 hex digits of the SHA-256 of its manifest key (the file's absolute path)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ID_LENGTH]


def list_documents(
    indexer: Indexer,
    scope: dict[str, Any] | None,
    *,
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
    status: str | None = None,
) -> dict[str, Any]:
    """
    A page of the documents the scope allows, ordered by file path.

    An unrestricted caller's page reads the chunks of the page's documents only; a restricted caller's listing reads
    every chunk its scope allows once (which documents it may see is known only from them).

    :param indexer: The indexer whose manifest and stores hold the documents (`shared_indexer(settings)`).
    :param scope: The caller's access filter; None: every document.
    :param offset: Documents skipped before the page.
    :param limit: The page's size (1 to 500).
    :param status: Only documents with this status (`indexed`, `skipped`, `no_text`, `failed`).
    :returns: `{"total", "offset", "limit", "documents"}`; `total` counts the documents the scope and status allow.
    :raises InvalidRequestError: A bad offset, limit or status.
    :raises StoreUnavailableError: No store can be read.
    """
    if offset < 0:
        raise InvalidRequestError("offset must be 0 or more")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_LIMIT}")
    if status is not None and status not in FILE_STATUSES:
        raise InvalidRequestError(f"status must be one of {', '.join(FILE_STATUSES)}")
    manifest = Manifest.load(manifest_path(indexer.settings))
    entries = sorted(manifest.entries.items())
    if status is not None:
        entries = [(key, entry) for key, entry in entries if entry.status == status]
    if scope is None:
        total = len(entries)
        page = entries[offset : offset + limit]
        wanted = [key for key, entry in page if _may_hold_chunks(entry)]
        chunks = _read_chunks(indexer, {"field": "meta.file_path", "operator": "in", "value": wanted}) if wanted else []
        by_file = _by_file(chunks)
    else:
        by_file = _by_file(_read_chunks(indexer, scope))
        visible = [(key, entry) for key, entry in entries if key in by_file]
        total = len(visible)
        page = visible[offset : offset + limit]
    documents = [_summary(indexer, key, entry, by_file.get(key, [])) for key, entry in page]
    return {"total": total, "offset": offset, "limit": limit, "documents": documents}


def get_document(indexer: Indexer, doc_id: str, scope: dict[str, Any] | None) -> dict[str, Any]:
    """
    One document and its chunks in their order in the file (those the scope allows: a mail's attachment with other
    metadata may be left out).

    :returns: The listing's fields, plus `chunk_list`: per chunk `id`, `text`, `section_path`, `section`, `page`,
        `chunk_index`, `source`, `attachment`.
    :raises DocumentNotFoundError: An unknown id, or a document the scope does not allow.
    :raises StoreUnavailableError: No store can be read.
    """
    manifest = Manifest.load(manifest_path(indexer.settings))
    key, entry = _find(manifest, doc_id)
    chunks = _visible_chunks(indexer, doc_id, key, entry, scope)
    document = _summary(indexer, key, entry, chunks)
    document["chunk_list"] = [_chunk(doc) for doc in _in_order(chunks, entry)]
    return document


def delete_document(indexer: Indexer, doc_id: str, scope: dict[str, Any] | None) -> dict[str, Any]:
    """
    Take a document out of the index: its chunks out of both stores (those the manifest lists and any other the
    stores hold for its file), its manifest entry removed, the index generation bumped (cached answers from before
    are not served again).

    The file on disk is NOT deleted: the next `rag index` of its folder indexes it again unless it is removed or
    moved from there. A file uploaded through the service (under `indexing.upload_dir`) IS deleted, with its
    `.meta.yml` sidecar: the service owns those files.

    :returns: `{"deleted": id, "source", "chunks": the chunks it held, "file_deleted", "note"}`.
    :raises DocumentNotFoundError: An unknown id, or a document the scope does not allow.
    :raises StoreUnavailableError: A store cannot be changed: the manifest entry is kept (deleting again completes).
    """
    settings = indexer.settings
    path = manifest_path(settings)
    with one_run_at_a_time(path, lambda: logger.info("deleting %s waits for an indexing run to end", doc_id)):
        manifest = Manifest.load(path)
        key, entry = _find(manifest, doc_id)
        chunks = _visible_chunks(indexer, doc_id, key, entry, scope)
        source = _source(key, entry, chunks)
        if _may_hold_chunks(entry):
            try:
                indexer._retire(key, replace(entry, pending=True))  # pending: also what the manifest does not list
            except Exception as e:
                logger.exception("deleting the chunks of %s failed", key)
                bump_index_generation(settings.resolve_path(settings.stores.data_dir))  # one store may have deleted
                raise StoreUnavailableError(
                    f"The document stores cannot be changed right now ({type(e).__name__}); the document is kept: "
                    "retry shortly."
                ) from None
        del manifest.entries[key]
        manifest.save()
        uploaded = _is_uploaded(indexer, key)
        if uploaded:
            for file in [Path(key), *(Path(key + suffix) for suffix in SIDECAR_SUFFIXES)]:
                file.unlink(missing_ok=True)
    return {
        "deleted": doc_id,
        "source": source,
        "chunks": len(entry.chunk_ids),
        "file_deleted": uploaded,
        "note": DELETE_UPLOAD_NOTE if uploaded else DELETE_NOTE,
    }


def reindex_document(indexer: Indexer, doc_id: str, scope: dict[str, Any] | None) -> dict[str, Any]:
    """
    Run the indexer again on one document's file, converting and embedding it even when unchanged, with the folder
    it was indexed from as its source root (its source name and `_meta.yml` files stay the same). The run waits for
    any other indexing run on the same data folder.

    :returns: The run's report (`IndexReport.to_dict()`).
    :raises DocumentNotFoundError: An unknown id, or a document the scope does not allow.
    :raises DocumentConflictError: The file is no longer on disk, or is reached through a link.
    :raises StoreUnavailableError: The run could not complete.
    """
    manifest = Manifest.load(manifest_path(indexer.settings))
    key, entry = _find(manifest, doc_id)
    chunks = _visible_chunks(indexer, doc_id, key, entry, scope)
    source = _source(key, entry, chunks)
    path = Path(key)
    if not path.exists():
        raise DocumentConflictError(f"'{source}' is no longer on disk: delete the document instead.")
    if path.resolve() != path:
        raise DocumentConflictError(f"'{source}' is reached through a link: index its folder again with `rag index`.")
    try:
        report = indexer.index([path], source_root=_source_root(indexer, key, source), force=True)
    except FileNotFoundError:
        raise DocumentConflictError(f"'{source}' is no longer on disk: delete the document instead.") from None
    except Exception as e:
        logger.exception("re-indexing %s failed", key)
        raise StoreUnavailableError(
            f"The document could not be indexed again ({type(e).__name__}); retry shortly."
        ) from None
    return report.to_dict()


# ---- reading the manifest and the stores ---------------------------------------------------------------------------


def _find(manifest: Manifest, doc_id: str) -> tuple[str, FileEntry]:
    for key, entry in manifest.entries.items():
        if document_id(key) == doc_id:
            return key, entry
    raise DocumentNotFoundError(f"No document with id '{doc_id}'.")


def _may_hold_chunks(entry: FileEntry) -> bool:
    return bool(entry.chunk_ids) or entry.pending


def _read_stores(indexer: Indexer) -> list[Any]:
    """The graph's writer stores, the BM25 store first (its documents carry no embedding)."""
    return list(reversed(_writer_stores(indexer.pipeline)))


def _read_chunks(indexer: Indexer, filters: dict[str, Any]) -> list[Document]:
    """The chunks matching `filters` in the first store that answers."""
    failures = []
    for store in _read_stores(indexer):
        try:
            return store.filter_documents(filters)
        except Exception as e:
            logger.warning("reading documents from %s failed", type(store).__name__, exc_info=True)
            failures.append(f"{type(store).__name__}: {type(e).__name__}")
    detail = "; ".join(failures) or "the indexing graph has no document store"
    raise StoreUnavailableError(f"The document stores cannot be read right now ({detail}); retry shortly.")


def _visible_chunks(
    indexer: Indexer, doc_id: str, key: str, entry: FileEntry, scope: dict[str, Any] | None
) -> list[Document]:
    """The document's chunks the scope allows. :raises DocumentNotFoundError: when a restricted scope allows none."""
    if scope is None:
        return _read_chunks(indexer, _file_filter(key)) if _may_hold_chunks(entry) else []
    chunks = _read_chunks(indexer, and_filters(scope, _file_filter(key)))
    if not chunks:
        raise DocumentNotFoundError(f"No document with id '{doc_id}'.")
    return chunks


def _by_file(chunks: list[Document]) -> dict[str, list[Document]]:
    found: dict[str, list[Document]] = {}
    for doc in chunks:
        found.setdefault(str(doc.meta.get("file_path")), []).append(doc)
    return found


def _position(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 1 << 30


def _in_order(chunks: list[Document], entry: FileEntry) -> list[Document]:
    """The file's order: the manifest lists its chunk ids as the splitter gave them; any other after them."""
    listed = {chunk_id: i for i, chunk_id in enumerate(entry.chunk_ids)}
    return sorted(
        chunks,
        key=lambda d: (
            listed.get(d.id, len(listed)),
            bool(d.meta.get("attachment")),
            _position(d.meta.get("chunk_index")),
            d.id,
        ),
    )


def _first(chunks: list[Document]) -> Document | None:
    """The chunk whose metadata describes the file: its first one, the file's own before its attachments'."""
    return min(
        chunks,
        key=lambda d: (bool(d.meta.get("attachment")), _position(d.meta.get("chunk_index")), d.id),
        default=None,
    )


def _source(key: str, entry: FileEntry, chunks: list[Document]) -> str:
    """The name shown to users: the manifest's, else the one the chunks hold (a mail's own), else the file name."""
    if entry.source:
        return entry.source
    first = _first(chunks)
    if first is not None and isinstance(first.meta.get("source"), str):
        source, attachment = first.meta["source"], first.meta.get("attachment")
        if attachment and source.endswith(f"/{attachment}"):
            source = source[: -len(attachment) - 1]
        if source:
            return source
    return Path(key).name


def _source_root(indexer: Indexer, key: str, source: str) -> Path:
    """The folder the file was indexed from: the one its source is relative to."""
    if source and Path(key).as_posix().endswith(f"/{source}"):
        return Path(key[: -len(source) - 1])
    if _is_uploaded(indexer, key):
        settings = indexer.settings
        return settings.resolve_path(settings.indexing.upload_dir).resolve()
    return Path(key).parent


def _is_uploaded(indexer: Indexer, key: str) -> bool:
    settings = indexer.settings
    return Path(key).is_relative_to(settings.resolve_path(settings.indexing.upload_dir).resolve())


def _text(value: Any) -> str | None:
    """A metadata value as text (a list joined), None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or None
    return str(value)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


def _summary(indexer: Indexer, key: str, entry: FileEntry, chunks: list[Document]) -> dict[str, Any]:
    first = _first(chunks)
    meta = first.meta if first is not None else {}
    path = Path(key)
    return {
        "id": document_id(key),
        "source": _source(key, entry, chunks),
        "title": _text(meta.get("title")),
        "file_type": path.suffix.lower().lstrip(".") or _text(meta.get("file_type")),
        "size": _size(path),
        "indexed_at": (
            datetime.fromtimestamp(entry.indexed_at, UTC).isoformat(timespec="seconds") if entry.indexed_at else None
        ),
        "chunks": len(entry.chunk_ids),
        "status": entry.status,
        "reason": entry.reason or None,
        "ocr": entry.ocr,
        "pending": entry.pending,
        "uploaded": _is_uploaded(indexer, key),
        "code_affaire": _text(meta.get("code_affaire")),
        "client": _text(meta.get("client")),
        "document_type": _text(meta.get("document_type")),
        "date": _text(meta.get("date") or meta.get("publish_date")),
    }


def _chunk(doc: Document) -> dict[str, Any]:
    section_path = doc.meta.get("section_path")
    page = doc.meta.get("page")
    return {
        "id": doc.id,
        "text": doc.content or "",
        "section_path": [str(s) for s in section_path] if isinstance(section_path, list) else None,
        "section": _text(doc.meta.get("section")),
        "page": page if isinstance(page, int) and not isinstance(page, bool) else None,
        "chunk_index": doc.meta.get("chunk_index") if isinstance(doc.meta.get("chunk_index"), int) else None,
        "source": _text(doc.meta.get("source")),
        "attachment": _text(doc.meta.get("attachment")),
    }
