"""Read a document's YAML front matter into its metadata."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import frontmatter
from haystack import Document, component, logging

logger = logging.getLogger(__name__)

_FIRST_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _plain(value: Any) -> Any:
    """Metadata values that every store accepts: dates as ISO strings, lists and scalars as they are."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


@component
class FrontMatterExtractor:
    """
    Moves a document's YAML front matter (`---` block at the top) into `Document.meta` and strips it from the text.

    Metadata already on the document (for example `source`, set by the indexer) wins over the front matter.
    Documents without a `title` get the first Markdown heading, else the file name. Documents with no tags and
    none of the key business fields are flagged `has_key_metadata: false`, so that ranking can tell them apart.
    """

    def __init__(self, key_fields: list[str] | None = None) -> None:
        """
        :param key_fields: The business fields that count as key metadata.
        """
        self.key_fields = (
            key_fields if key_fields is not None else ["code_affaire", "client", "commune", "lot", "document_type"]
        )

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        :param documents: Converted documents, text possibly starting with front matter.
        :returns: `documents`, new documents with the front matter in `meta` and removed from `content`.
        """
        result = []
        for doc in documents:
            text = doc.content or ""
            try:
                post = frontmatter.loads(text)
                found, body = dict(post.metadata), post.content
            except Exception as e:  # a broken front matter must not lose the document
                logger.warning("Unreadable front matter in {source}: {error}", source=doc.meta.get("source"), error=e)
                found, body = {}, text
            meta = {**{str(k): _plain(v) for k, v in found.items()}, **doc.meta}
            if not meta.get("title"):
                heading = _FIRST_HEADING.search(body)
                source = meta.get("source") or meta.get("file_path") or ""
                meta["title"] = heading.group(1) if heading else Path(str(source)).stem or "Sans titre"
            meta["has_key_metadata"] = bool(meta.get("tags")) or any(meta.get(f) for f in self.key_fields)
            result.append(replace(doc, content=body.strip(), meta=meta, id=""))
        return {"documents": result}
