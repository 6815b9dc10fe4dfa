"""CSV files (spreadsheet exports) as Markdown tables."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from haystack import Document, component, logging
from haystack.components.converters.utils import get_bytestream_from_source, normalize_metadata
from haystack.dataclasses import ByteStream

logger = logging.getLogger(__name__)

DELIMITERS = ";,\t|"
MAX_CELLS = 200_000
TRUNCATED = "Tableau tronqué : {kept} lignes sur {total} lues."


def _cell(value: str) -> str:
    return " ".join(value.split()).replace("|", "\\|")


def csv_to_markdown(text: str, max_cells: int = MAX_CELLS) -> str:
    """
    A CSV text as one Markdown table, its first row as the header; the delimiter is the one of
    `;`, `,`, tab and `|` that the header row holds most (French exports use `;` and decimal commas).

    :param text: The CSV text.
    :param max_cells: The most cells the table may hold once padded to its width; the rows beyond are left out and
        a line says how many were read (a 6 KiB file whose first row is very wide would pad to gigabytes).
    :returns: The Markdown table, or "" when the text holds no rows.
    """
    header = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    width = 0
    for row in reader:
        cells = [_cell(c) for c in row]
        while cells and not cells[-1]:  # trailing empty cells never widen the table
            cells.pop()
        if cells:
            rows.append(cells)
            width = max(width, len(cells))
    if not rows:
        return ""
    kept = max(2, max_cells // width)  # a table is padded to its width: bound the cells it can make
    lines = ["| " + " | ".join(rows[0] + [""] * (width - len(rows[0]))) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows[1:kept]]
    if len(rows) > kept:
        lines.append(f"\n{TRUNCATED.format(kept=kept - 1, total=len(rows) - 1)}")
    return "\n".join(lines)


@component
class CSVTableToDocument:
    """
    Converts CSV files to one Document each, holding the file as a Markdown table (header row first), so that a
    structure-aware splitter keeps rows whole and repeats the header in every chunk of the table.
    """

    def __init__(self, encoding: str = "utf-8", store_full_path: bool = False) -> None:
        """
        :param encoding: The files' encoding when their ByteStream does not say; undecodable bytes fall back to
            cp1252 (spreadsheets saved on Windows).
        :param store_full_path: Keep the full path in `file_path` metadata, else only the file name.
        """
        self.encoding = encoding
        self.store_full_path = store_full_path

    @component.output_types(documents=list[Document])
    def run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        :param sources: CSV file paths or ByteStreams.
        :param meta: Metadata for every document, or one dict per source.
        :returns: `documents`, one per readable file.
        """
        documents = []
        for source, metadata in zip(sources, normalize_metadata(meta, sources_count=len(sources)), strict=True):
            try:
                stream = get_bytestream_from_source(source)
                encoding = stream.meta.get("encoding", self.encoding)
                try:
                    text = stream.data.decode(encoding)
                except UnicodeDecodeError:
                    text = stream.data.decode("cp1252")
                content = csv_to_markdown(text.lstrip("\ufeff"))
            except Exception as e:
                logger.warning("Could not read {source}. Skipping it. Error: {error}", source=source, error=e)
                continue
            merged = {**stream.meta, **metadata}
            if not self.store_full_path and "file_path" in merged:
                merged["file_path"] = Path(str(merged["file_path"])).name
            documents.append(Document(content=content, meta=merged))
        return {"documents": documents}
