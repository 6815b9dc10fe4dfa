"""Haystack's DOCX converter, with Word headings written as Markdown headings."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from haystack import Document, component
from haystack.components.converters.docx import DOCXToDocument
from haystack.dataclasses import ByteStream

# Word's built-in heading styles, English and French ("Heading 2", "Titre 2"); "Title" counts as level 1.
_HEADING_STYLE = re.compile(r"^(?:heading|titre)\s*(\d)$", re.IGNORECASE)
_TITLE_STYLES = {"title", "titre"}


def heading_level(style_name: str | None) -> int:
    """The heading level of a Word paragraph style name, 0 when it is not a heading."""
    name = (style_name or "").strip()
    if name.lower() in _TITLE_STYLES:
        return 1
    match = _HEADING_STYLE.match(name)
    return min(int(match.group(1)), 6) if match else 0


@component
class HeadingDOCXToDocument(DOCXToDocument):
    """
    Converts DOCX files like Haystack's `DOCXToDocument` (tables, page breaks as form feeds), and also writes
    paragraphs styled as headings as Markdown headings (`## Titre`), so that splitting can follow the structure.

    Metadata read from the file's properties (the `docx` key) is left out: its dates are not plain values.
    """

    def _process_links_in_paragraph(self, paragraph: Any) -> str:
        text = DOCXToDocument._process_links_in_paragraph(self, paragraph)
        style = getattr(paragraph, "style", None)
        level = heading_level(getattr(style, "name", None))
        if level and text.strip():
            return f"{'#' * level} {text.strip()}"
        return text

    @component.output_types(documents=list[Document])
    def run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        :param sources: DOCX file paths or ByteStreams.
        :param meta: Metadata for every document, or one dict per source.
        :returns: `documents`, one per readable file, with Markdown headings and tables.
        """
        documents = DOCXToDocument.run(self, sources=sources, meta=meta)["documents"]
        return {"documents": [replace(d, meta={k: v for k, v in d.meta.items() if k != "docx"}) for d in documents]}
