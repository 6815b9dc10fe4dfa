"""The documents API, behind the gateway: list the indexed documents, show one with its chunks, delete one, index one
again. The work is done by `indexing.documents` (the same functions `rag documents` calls); these routes read the
caller's access scope and role, run it off the event loop, and turn its errors into HTTP answers.

- `GET /documents?offset=&limit=&status=`: a page of the documents the caller may see.
- `GET /documents/{id}`: one document with its chunks.
- `DELETE /documents/{id}`: its chunks out of both stores, its manifest entry removed; the file on disk is kept,
  except a file uploaded through the service.
- `POST /documents/{id}/reindex`: the indexer run again on its file, even unchanged.

A caller sees and changes only the documents its access scope allows (a document is visible when one of its chunks
matches the scope; a document without chunks — skipped, without text, failed — only to callers whose scope is
unrestricted); any other id is answered 404, as an unknown one. Changes need `auth.documents_role` (403), except in
dev mode, where authentication is off and every change is allowed. A store that cannot be read or changed: 503.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, Field

from indexing.documents import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    DocumentConflictError,
    DocumentNotFoundError,
    InvalidRequestError,
    StoreUnavailableError,
    delete_document,
    get_document,
    list_documents,
    reindex_document,
)
from indexing.index_files import shared_indexer
from service.gateway.context import current_request
from service.settings import Settings

logger = logging.getLogger(__name__)

Status = Literal["indexed", "skipped", "no_text", "failed"]


class DocumentSummary(BaseModel):
    id: str = Field(description="A stable id: the first 16 hex digits of the SHA-256 of the file's path")
    source: str = Field(description="The name shown to users, relative to the folder that was indexed")
    title: str | None = None
    file_type: str | None = Field(None, description="The file's extension, without the dot")
    size: int | None = Field(None, description="Bytes on disk; null when the file is no longer there")
    indexed_at: str | None = Field(None, description="When its chunks were last written (ISO 8601, UTC)")
    chunks: int = Field(description="How many chunks it has in the stores")
    status: Status
    reason: str | None = Field(None, description="Why it is skipped, has no text or failed")
    ocr: bool = Field(description="Some of its text was read by OCR")
    pending: bool = Field(description="An indexing run is writing it, or was stopped while it did")
    uploaded: bool = Field(description="Uploaded through the service (its file is deleted with the document)")
    code_affaire: str | None = None
    client: str | None = None
    document_type: str | None = None
    date: str | None = None


class DocumentPage(BaseModel):
    total: int = Field(description="Documents the caller may see (with the status asked for)")
    offset: int
    limit: int
    documents: list[DocumentSummary]


class Chunk(BaseModel):
    id: str
    text: str
    section_path: list[str] | None = Field(None, description="The headings above it")
    section: str | None = None
    page: int | None = None
    chunk_index: int | None = None
    source: str | None = Field(None, description="Its source (a mail's attachment: `<mail>/<attachment>`)")
    attachment: str | None = None


class DocumentDetail(DocumentSummary):
    chunk_list: list[Chunk] = Field(description="Its chunks the caller may see, in their order in the file")


class DeletedDocument(BaseModel):
    deleted: str = Field(description="The id of the document taken out of the index")
    source: str
    chunks: int = Field(description="The chunks deleted from each store")
    file_deleted: bool = Field(description="The file was deleted from disk too (uploaded files only)")
    note: str


DocumentId = Annotated[str, Path(description="A document's id, as `GET /documents` lists it", max_length=64)]


def _scope() -> dict[str, Any] | None:
    """The caller's access filter, as the gateway granted it (None: every document). Fail closed without it."""
    ctx = current_request()
    if ctx is None or not ctx.access.granted:
        raise HTTPException(status_code=403, detail="No access scope for this request: documents are not shown.")
    return ctx.access.filters


def _check_may_change(settings: Settings) -> None:
    """403 unless the caller holds `auth.documents_role` (dev mode, authentication off: every change allowed)."""
    role = settings.auth.documents_role
    if settings.auth.mode == "dev" or role is None:
        return
    ctx = current_request()
    principal = ctx.principal if ctx is not None else None
    if principal is None or role not in principal.roles:
        raise HTTPException(status_code=403, detail=f"Changing documents needs the '{role}' role.")


async def _call(settings: Settings, function: Any, *args: Any, **kwargs: Any) -> Any:
    """
    Run a documents function on the process's indexer in a thread (the indexer's graph is built on first use);
    its errors as HTTP answers, a message and never a traceback.
    """

    def run() -> Any:
        try:
            indexer = shared_indexer(settings)  # its stores are the `rag` graph's own (service/store_registry.py)
        except Exception as e:
            logger.exception("the indexing graph could not be built for the documents API")
            raise StoreUnavailableError(
                f"The index cannot be opened right now ({type(e).__name__}); retry shortly."
            ) from None
        return function(indexer, *args, **kwargs)

    try:
        return await asyncio.to_thread(run)
    except DocumentNotFoundError as e:
        raise HTTPException(status_code=404, detail=str(e)) from None
    except DocumentConflictError as e:
        raise HTTPException(status_code=409, detail=str(e)) from None
    except StoreUnavailableError as e:
        raise HTTPException(status_code=503, detail=str(e), headers={"retry-after": "5"}) from None
    except InvalidRequestError as e:
        raise HTTPException(status_code=422, detail=str(e)) from None


def add_document_routes(app: FastAPI, settings: Settings) -> None:
    """Add `/documents` routes, ahead of Hayhooks' own (routes match in order)."""
    before = len(app.router.routes)

    @app.get(
        "/documents",
        tags=["documents"],
        summary="List the indexed documents the caller may see",
        response_model=DocumentPage,
    )
    async def documents(
        offset: Annotated[int, Query(ge=0, description="Documents skipped before the page")] = 0,
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description=f"The page's size, at most {MAX_LIMIT}")
        ] = DEFAULT_LIMIT,
        status: Annotated[Status | None, Query(description="Only the documents with this status")] = None,
    ) -> dict[str, Any]:
        """
        Every file the index knows, ordered by path: indexed, skipped (an unsupported type), without text, failed,
        with its chunk count and key metadata (from its first chunk). Documents without chunks are listed only for
        callers whose access scope is unrestricted.
        """
        scope = _scope()
        return await _call(settings, list_documents, scope, offset=offset, limit=limit, status=status)

    @app.get(
        "/documents/{document_id}",
        tags=["documents"],
        summary="One document with its chunks",
        response_model=DocumentDetail,
    )
    async def document(document_id: DocumentId) -> dict[str, Any]:
        """The listing's fields and the document's chunks the caller may see, in their order. 404: unknown id."""
        scope = _scope()
        return await _call(settings, get_document, document_id, scope)

    @app.delete(
        "/documents/{document_id}",
        tags=["documents"],
        summary="Take a document out of the index",
        response_model=DeletedDocument,
    )
    async def delete(document_id: DocumentId) -> dict[str, Any]:
        """
        Delete the document's chunks from both stores and its manifest entry; cached answers are not served again.
        The file on disk is NOT deleted: the next `rag index` of its folder indexes it again unless it is removed
        from there (the answer's `note` says so). A file uploaded through the service is deleted, with its metadata
        sidecar. Needs `auth.documents_role`; waits for an indexing run in progress.
        """
        _check_may_change(settings)
        scope = _scope()
        return await _call(settings, delete_document, document_id, scope)

    @app.post(
        "/documents/{document_id}/reindex",
        tags=["documents"],
        summary="Index a document's file again",
    )
    async def reindex(document_id: DocumentId) -> dict[str, Any]:
        """
        Convert, split and embed the document's file again, even unchanged, with the same source name; answers the
        run's report (as `POST /upload/run`). 409 when the file is no longer on disk. Needs `auth.documents_role`;
        waits for an indexing run in progress. Send no body (`curl -X POST -d '' ...`: the gateway refuses a POST
        body of unknown length that is not JSON).
        """
        _check_may_change(settings)
        scope = _scope()
        return await _call(settings, reindex_document, document_id, scope)

    ours = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = ours
