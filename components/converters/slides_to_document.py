"""PowerPoint slides (.pptx) as Markdown-like text: one section per slide, one page per slide."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from haystack import Document, component, logging
from haystack.components.converters.utils import get_bytestream_from_source, normalize_metadata
from haystack.dataclasses import ByteStream
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER
from pptx.oxml.ns import qn

logger = logging.getLogger(__name__)

SLIDE_LABEL = "Diapositive"  # the heading of a slide without a title: "Diapositive 3"
NOTES_LABEL = "Notes"  # speaker notes: "Notes : ..."

# Placeholders whose paragraphs are bullets unless they say otherwise (the master's body style).
_BULLETED_PLACEHOLDERS = {PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT}
_BULLETS = {qn("a:buChar"), qn("a:buAutoNum"), qn("a:buBlip")}
_NO_BULLET = qn("a:buNone")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _is_bullet(paragraph: Any, bulleted_shape: bool) -> bool:
    """A paragraph's own bullet setting (python-pptx has no API for it: read from its XML), else its shape's."""
    ppr = getattr(getattr(paragraph, "_p", None), "pPr", None)
    if ppr is not None:
        tags = {child.tag for child in ppr}
        if _NO_BULLET in tags:
            return False
        if tags & _BULLETS:
            return True
    return bulleted_shape


def _text_frame_block(shape: Any) -> str:
    """A text frame as one paragraph: bullets one per line as `- text` (indented two spaces a level)."""
    bulleted = False
    if shape.is_placeholder:
        try:
            bulleted = shape.placeholder_format.type in _BULLETED_PLACEHOLDERS
        except ValueError:  # a placeholder without a known type
            bulleted = False
    lines = []
    for paragraph in shape.text_frame.paragraphs:
        if _is_bullet(paragraph, bulleted):
            text = _one_line(paragraph.text)
            if text:
                lines.append(f"{'  ' * paragraph.level}- {text}")
        else:
            text = "\n".join(_one_line(line) for line in paragraph.text.split("\v"))
            if text.strip():
                lines.append(text.strip())
    return "\n".join(lines)


def _table_block(table: Any) -> str:
    """A table as a Markdown pipe table, its first row as the header."""
    rows = [[_cell(cell.text) for cell in row.cells] for row in table.rows]
    if not rows or not any(any(row) for row in rows):
        return ""
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _shape_blocks(shapes: Iterable[Any], title_id: int | None) -> list[str]:
    """The text of shapes in slide order, groups opened; the title shape is left out (it is the heading)."""
    blocks = []
    for shape in shapes:
        if shape.shape_id == title_id:
            continue
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            blocks += _shape_blocks(shape.shapes, title_id)
        elif getattr(shape, "has_table", False) and shape.has_table:
            blocks.append(_table_block(shape.table))
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            blocks.append(_text_frame_block(shape))
    return [b for b in blocks if b]


@component
class SlidesToDocument:
    """
    ### Usage example

    ```python
    converter = SlidesToDocument(include_notes=True, store_full_path=True)
    doc = converter.run(sources=["reunion_chantier.pptx"])["documents"][0]
    print(doc.content.split("\\f")[0])  # "## Planning\\n\\n- Terrassements : mars\\n\\nNotes : ..."
    ```

    Converts PowerPoint files (.pptx) to one Document each, a page per slide (slides separated by form feeds). Each
    slide is a section: `## <title>` (its title placeholder, "Diapositive N" when it has none), then its text frames
    as paragraphs (bullets one per line as `- text`), its tables as Markdown pipe tables (first row as header), the
    shapes of groups, and its speaker notes as a paragraph "Notes : ...". Metadata: `slide_count`.
    """

    def __init__(self, include_notes: bool = True, store_full_path: bool = False) -> None:
        """
        :param include_notes: Add each slide's speaker notes.
        :param store_full_path: Keep the full path in `file_path` metadata, else only the file name.
        """
        self.include_notes = include_notes
        self.store_full_path = store_full_path

    def _slide_text(self, slide: Any, number: int) -> str:
        title_shape = slide.shapes.title
        title = _one_line(title_shape.text_frame.text) if title_shape is not None else ""
        blocks = [f"## {title or f'{SLIDE_LABEL} {number}'}"]
        blocks += _shape_blocks(slide.shapes, title_shape.shape_id if title_shape is not None else None)
        if self.include_notes and slide.has_notes_slide:
            frame = slide.notes_slide.notes_text_frame
            notes = "\n".join(line.strip() for line in (frame.text if frame else "").splitlines() if line.strip())
            if notes:
                blocks.append(f"{NOTES_LABEL} : {notes}")
        return "\n\n".join(blocks).replace("\v", "\n")

    @component.output_types(documents=list[Document])
    def run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        :param sources: .pptx file paths or ByteStreams.
        :param meta: Metadata for every document, or one dict per source.
        :returns: `documents`, one per readable file.
        """
        documents = []
        for source, metadata in zip(sources, normalize_metadata(meta, sources_count=len(sources)), strict=True):
            try:
                stream = get_bytestream_from_source(source)
                slides = list(Presentation(io.BytesIO(stream.data)).slides)
                content = "\f".join(self._slide_text(slide, n) for n, slide in enumerate(slides, start=1))
            except Exception as e:
                logger.warning("Could not read {source}. Skipping it. Error: {error}", source=source, error=e)
                continue
            merged = {**stream.meta, "slide_count": len(slides), **metadata}
            if not self.store_full_path and "file_path" in merged:
                merged["file_path"] = Path(str(merged["file_path"])).name
            documents.append(Document(content=content, meta=merged))
        return {"documents": documents}
