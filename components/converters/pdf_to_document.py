"""
PDF files as Markdown-like text with pdfplumber: ruled tables as pipe tables, two-column pages read column by column,
running headers and footers removed, and scanned pages read by OCR.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import pdfplumber
from haystack import Document, component, logging
from haystack.components.converters.utils import get_bytestream_from_source, normalize_metadata
from haystack.dataclasses import ByteStream
from pdfplumber.utils import extract_text

logger = logging.getLogger(__name__)

# Why a document holds no text (the `no_text_reason` metadata), for a person to read.
NO_TEXT_OCR_OFF = "scanned, OCR off"
NO_TEXT_PREFIX = "scanned, "
NO_TEXT_OCR_EMPTY = "scanned, OCR found no text"

MIN_SCAN_DPI = 150  # a scan's own resolution below this is raised to it for OCR
# A page with fewer characters than `min_text_chars` is scanned when its images cover this share of it.
SCANNED_IMAGE_COVER = 0.5
# Running headers and footers: lines in the top or bottom MARGIN_SHARE of a page, repeated (digits aside) in at
# least REPEAT_SHARE of the pages and in at least REPEAT_MIN_PAGES pages.
MARGIN_SHARE = 0.08
REPEAT_SHARE = 0.6
REPEAT_MIN_PAGES = 3
# Two columns: a vertical gutter searched in the middle band of the page, clear of words (by GUTTER_PAD points on
# each side) in all but GUTTER_MAX_CROSSING of the lines, with text on both sides at least COLUMN_MIN_WIDTH wide.
GUTTER_BAND = (0.35, 0.65)
GUTTER_PAD = 3.0
GUTTER_MAX_CROSSING = 0.2
COLUMN_MIN_LINES = 3
COLUMN_MIN_WIDTH = 0.2
# Headings: paragraphs of at most HEADING_MAX_LINES lines and HEADING_MAX_CHARS characters, set in a font at least
# HEADING_SIZE_RATIO times the document's body size.
HEADING_SIZE_RATIO = 1.15
HEADING_MAX_LINES = 2
HEADING_MAX_CHARS = 150
# A new paragraph starts where a line's size differs by this share from the previous line's.
SIZE_CHANGE = 0.15
# A table at the top of a page continues the previous page's last table when their edges are this close (points).
CONTINUED_TABLE_TOLERANCE = 5.0


# What is kept of pdfplumber's words.
_WORD_KEYS = ("text", "x0", "x1", "top", "bottom", "size")


@dataclass
class _Line:
    top: float
    bottom: float
    x0: float
    x1: float
    words: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w["text"] for w in sorted(self.words, key=lambda w: w["x0"]))

    @property
    def size(self) -> float:
        return max(float(w.get("size") or (w["bottom"] - w["top"])) for w in self.words)

    def add(self, word: dict[str, Any]) -> None:
        self.words.append(word)
        self.x0, self.x1 = min(self.x0, word["x0"]), max(self.x1, word["x1"])


@dataclass
class _Table:
    bbox: tuple[float, float, float, float]
    rows: list[list[str | None]]

    @property
    def top(self) -> float:
        return self.bbox[1]


@dataclass
class _Page:
    width: float
    height: float
    words: list[dict[str, Any]]
    tables: list[_Table]
    ocr_text: str | None = None
    sizes: Counter[float] = field(default_factory=Counter)  # characters by font size, tables' included


def _lines(words: list[dict[str, Any]]) -> list[_Line]:
    """Words grouped into lines: a word belongs to the line whose first word's height holds its middle."""
    lines: list[_Line] = []
    for word in sorted(words, key=lambda w: (w["top"], w["x0"])):
        middle = (word["top"] + word["bottom"]) / 2
        for line in reversed(lines[-4:]):
            if line.top <= middle <= line.bottom:
                line.add(word)
                break
        else:
            lines.append(_Line(word["top"], word["bottom"], word["x0"], word["x1"], [word]))
    return sorted(lines, key=lambda line: line.top)


def _cell(value: str | None) -> str:
    return " ".join((value or "").split()).replace("|", "\\|")


def table_to_markdown(rows: list[list[str | None]], header: list[str] | None = None) -> str:
    """
    A table extracted by pdfplumber as a Markdown pipe table, its first row as the header.

    :param rows: The rows' cells; None marks a cell merged with its neighbour.
    :param header: A header to use instead of the first row (a table continued from the previous page).
    :returns: The table; merged header cells repeat the value on their left, other merged cells are empty;
        empty rows and columns are left out.
    """
    rows = [row for row in rows if any(_cell(c) for c in row)]
    if header is None:
        if not rows:
            return ""
        header, rows = _table_header(rows), rows[1:]
    width = max([len(header)] + [len(row) for row in rows])
    table = [header + [""] * (width - len(header))] + [
        [_cell(c) for c in row] + [""] * (width - len(row)) for row in rows
    ]
    keep = [i for i in range(width) if any(row[i] for row in table)]
    table = [[row[i] for i in keep] for row in table]
    lines = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(keep)]
    lines += ["| " + " | ".join(row) + " |" for row in table[1:]]
    return "\n".join(lines)


def _table_header(rows: list[list[str | None]]) -> list[str]:
    first = next((row for row in rows if any(_cell(c) for c in row)), [])
    header, previous = [], ""
    for value in first:
        previous = _cell(value) if value is not None else previous
        header.append(previous)
    return header


def extract_table(table: Any, chars: list[dict[str, Any]]) -> list[list[str | None]]:
    """
    The cells' text of a pdfplumber table, as `Table.extract()` gives it (a character belongs to the cell holding its
    middle), but with the characters sorted once instead of scanned again for every row.

    :param table: A table from `page.find_tables()`.
    :param chars: The page's characters.
    :returns: The rows' cells; None for a cell merged with a neighbour.
    """
    x0, top, x1, bottom = table.bbox
    placed = [
        ((c["top"] + c["bottom"]) / 2, (c["x0"] + c["x1"]) / 2, c)
        for c in chars
        if x0 <= (c["x0"] + c["x1"]) / 2 < x1 and top <= (c["top"] + c["bottom"]) / 2 < bottom
    ]
    placed.sort(key=lambda placed_char: placed_char[0])
    middles = [v for v, _, _ in placed]
    rows = []
    for row in table.rows:
        in_row = placed[bisect_left(middles, row.bbox[1]) : bisect_left(middles, row.bbox[3])]
        cells: list[str | None] = []
        for cell in row.cells:
            if cell is None:
                cells.append(None)
                continue
            inside = [c for v, h, c in in_row if cell[0] <= h < cell[2] and cell[1] <= v < cell[3]]
            cells.append(extract_text(inside) if inside else "")
        rows.append(cells)
    return rows


def find_gutter(words: list[dict[str, Any]], width: float) -> float | None:
    """
    The x of the gutter of a two-column page: a vertical band near the middle that no word crosses in most lines,
    with lines of text on both sides.

    :param words: The page's words outside tables, headers and footers.
    :param width: The page's width.
    :returns: The gutter's x, or None for a single-column page.
    """
    lines = _lines(words)
    if len(lines) < 2 * COLUMN_MIN_LINES:
        return None
    low, high = int(width * GUTTER_BAND[0]), int(width * GUTTER_BAND[1])
    crossings = [0] * (high - low + 1)
    for line in lines:
        covered = set()
        for word in line.words:
            start, end = max(low, math.floor(word["x0"] - GUTTER_PAD)), min(high, math.ceil(word["x1"] + GUTTER_PAD))
            covered.update(range(start, end + 1))
        for x in covered:
            crossings[x - low] += 1
    middle = (high - low) / 2
    best = min(range(len(crossings)), key=lambda i: (crossings[i], abs(i - middle)))
    if crossings[best] > GUTTER_MAX_CROSSING * len(lines):
        return None
    gutter = low + best
    left = [w for w in words if w["x1"] <= gutter]
    right = [w for w in words if w["x0"] >= gutter]
    for side in (left, right):
        side_lines = _lines(side)
        if len(side_lines) < COLUMN_MIN_LINES:
            return None
        if median(line.x1 - line.x0 for line in side_lines) < COLUMN_MIN_WIDTH * width:
            return None
    return float(gutter)


def _reading_order(words: list[dict[str, Any]], tables: list[_Table], width: float) -> list[tuple[Any, Any]]:
    """
    The page's lines and tables in reading order, each with the key of its flow (lines of one flow may form
    paragraphs): top to bottom, and on two-column stretches the left column before the right one.
    """
    gutter = find_gutter(words, width)
    if gutter is None:
        items: list[Any] = [*_lines(words), *tables]
        return [(item, "page") for item in sorted(items, key=lambda item: item.top)]
    spanning: list[Any] = []
    after_crossing = False
    for line in _lines(words):
        crosses = any(w["x0"] < gutter < w["x1"] for w in line.words)
        one_side = all(w["x1"] <= gutter for w in line.words) or all(w["x0"] >= gutter for w in line.words)
        # the short last line of a paragraph across the page (a wrapped title) goes on with it
        follows = (
            after_crossing and one_side and line.top - spanning[-1].bottom < spanning[-1].bottom - spanning[-1].top
        )
        if crosses or follows:
            spanning.append(line)
        after_crossing = crosses
    spanning_ids = {id(w) for line in spanning for w in line.words}
    sides: dict[str, list[Any]] = {"left": [], "right": []}
    for table in tables:
        if table.bbox[0] < gutter < table.bbox[2]:
            spanning.append(table)
        else:
            sides["left" if table.bbox[2] <= gutter else "right"].append(table)
    column_words = [w for w in words if id(w) not in spanning_ids]
    for side, keep in (("left", lambda w: (w["x0"] + w["x1"]) / 2 < gutter), ("right", lambda w: True)):
        chosen = [w for w in column_words if keep(w)]
        column_words = [w for w in column_words if not keep(w)]
        sides[side].extend(_lines(chosen))
    spanning.sort(key=lambda item: item.top)
    tops = [item.top for item in spanning]
    segments: list[dict[str, list[Any]]] = [{"left": [], "right": []} for _ in range(len(spanning) + 1)]
    for side, items in sides.items():
        for item in items:
            segments[bisect_right(tops, item.top)][side].append(item)
    ordered: list[tuple[Any, Any]] = []
    for index, segment in enumerate(segments):
        if index:
            previous_key = ordered[-1][1] if ordered and ordered[-1][1][0] == "full" else ("full", index)
            ordered.append((spanning[index - 1], previous_key))
        for side in ("left", "right"):
            ordered += [(item, (side, index)) for item in sorted(segment[side], key=lambda item: item.top)]
    return ordered


@component
class PDFToDocument:
    """
    Converts PDF files to one Document each, with pdfplumber: ruled tables as Markdown pipe tables (header row
    first), text around them in reading order (two-column pages column by column), paragraphs separated by blank
    lines, larger-font titles as Markdown headings, running headers and footers removed, pages separated by form
    feeds, and scanned pages read by OCR.

    ### Usage example
    ```python
    converter = PDFToDocument(ocr_languages=["fra"])
    documents = converter.run(sources=["dqe.pdf"])["documents"]
    print(documents[0].content)  # "| N° prix | Désignation | ... |\\n|---|---|...", pages split by "\\f"
    ```
    """

    def __init__(
        self,
        *,
        ocr: bool = True,
        ocr_languages: list[str] | None = None,
        min_text_chars: int = 50,
        ocr_dpi: int = 300,
        remove_repeated_lines: bool = True,
        store_full_path: bool = False,
    ) -> None:
        """
        :param ocr: Read scanned pages by OCR (tesseract).
        :param ocr_languages: Tesseract language codes, `["fra"]` when None.
        :param min_text_chars: A page with fewer characters than this whose images cover most of it is scanned.
        :param ocr_dpi: The highest resolution scanned pages are rendered at for OCR (a page is rendered at its
            scan's own resolution when lower).
        :param remove_repeated_lines: Remove running headers and footers: lines repeated (digits aside) in the top
            or bottom 8 % of at least 60 % of the pages, and of 3 pages at least.
        :param store_full_path: Keep the full path in `file_path` metadata, else only the file name.
        """
        self.ocr = ocr
        self.ocr_languages = ocr_languages
        self.min_text_chars = min_text_chars
        self.ocr_dpi = ocr_dpi
        self.remove_repeated_lines = remove_repeated_lines
        self.store_full_path = store_full_path

    @component.output_types(documents=list[Document])
    def run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        :param sources: PDF file paths or ByteStreams.
        :param meta: Metadata for every document, or one dict per source.
        :returns: `documents`, one per readable file, with metadata `page_count`, and `ocr: True` and `ocr_pages`
            (1-based) when pages were read by OCR, and `no_text_reason` when no page holds text.
        """
        documents = []
        for source, metadata in zip(sources, normalize_metadata(meta, sources_count=len(sources)), strict=True):
            try:
                stream = get_bytestream_from_source(source)
                content, extra = self._convert(stream.data, source)
            except Exception as e:
                logger.warning("Could not read {source}. Skipping it. Error: {error}", source=source, error=e)
                continue
            merged = {**stream.meta, **metadata, **extra}
            if not self.store_full_path and "file_path" in merged:
                merged["file_path"] = Path(str(merged["file_path"])).name
            documents.append(Document(content=content, meta=merged))
        return {"documents": documents}

    def _convert(self, data: bytes, source: Any) -> tuple[str, dict[str, Any]]:
        pages: list[_Page] = []
        ocr_pages: list[int] = []
        reasons: list[str] = []
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for number, page in enumerate(pdf.pages, start=1):
                try:
                    pages.append(self._read_page(page, number, source, ocr_pages, reasons))
                except Exception as e:
                    logger.warning(
                        "Could not read page {page} of {source}. Leaving it empty. Error: {error}",
                        page=number,
                        source=source,
                        error=e,
                    )
                    pages.append(_Page(float(page.width), float(page.height), [], []))
                finally:
                    page.close()
        if self.remove_repeated_lines:
            _remove_repeated_lines(pages)
        texts = _render(pages)
        extra: dict[str, Any] = {"page_count": len(pages)}
        if ocr_pages:
            extra["ocr"] = True
            extra["ocr_pages"] = ocr_pages
        if reasons and not any(text.strip() for text in texts):
            extra["no_text_reason"] = reasons[0]
        return "\f".join(texts), extra

    def _read_page(self, page: Any, number: int, source: Any, ocr_pages: list[int], reasons: list[str]) -> _Page:
        width, height = float(page.width), float(page.height)
        text_chars = sum(1 for char in page.chars if char["text"].strip())
        if text_chars < self.min_text_chars and _image_cover(page) >= SCANNED_IMAGE_COVER:
            text = self._ocr_page(page, number, source, reasons)
            if text:
                ocr_pages.append(number)
                return _Page(width, height, [], [], ocr_text=text)
        tables = []
        for table in page.find_tables():
            rows = extract_table(table, page.chars)
            if rows and max(len(row) for row in rows) >= 2:  # a framed paragraph is no table
                tables.append(_Table(tuple(float(v) for v in table.bbox), rows))

        def outside_tables(word: dict[str, Any]) -> bool:
            x, y = (word["x0"] + word["x1"]) / 2, (word["top"] + word["bottom"]) / 2
            return not any(t.bbox[0] <= x <= t.bbox[2] and t.bbox[1] <= y <= t.bbox[3] for t in tables)

        sizes = Counter(_half_point(char.get("size")) for char in page.chars if char["text"].strip())
        words = [
            {key: word[key] for key in _WORD_KEYS}
            for word in page.extract_words(extra_attrs=["size"])
            if outside_tables(word)
        ]
        return _Page(width, height, words, tables, sizes=sizes)

    def _ocr_page(self, page: Any, number: int, source: Any, reasons: list[str]) -> str:
        if not self.ocr:
            reasons.append(NO_TEXT_OCR_OFF)
            return ""
        try:
            from components.converters.ocr import ocr_available, ocr_image  # noqa: PLC0415  (only for scans)
        except ImportError as e:
            reasons.append(f"{NO_TEXT_PREFIX}OCR not installed: {e}")
            return ""

        reason = ocr_available(self.ocr_languages)
        if reason:
            reasons.append(NO_TEXT_PREFIX + reason)
            return ""
        image = page.to_image(resolution=scan_resolution(page, self.ocr_dpi)).original
        try:
            text = ocr_image(image, languages=self.ocr_languages).strip()
        except Exception as e:
            logger.warning(
                "Could not read page {page} of {source} by OCR. Error: {error}", page=number, source=source, error=e
            )
            reasons.append(f"{NO_TEXT_PREFIX}OCR failed: {e}")
            return ""
        if not text:
            reasons.append(NO_TEXT_OCR_EMPTY)
        return text


def scan_resolution(page: Any, most: int) -> int:
    """
    The resolution to render a scanned page at: that of its largest image (a 200 dpi scan rendered at 300 dpi is
    interpolated, noise included: on the generated delivery note 13.7 % character errors against 1.5 % at its own
    200 dpi), at least MIN_SCAN_DPI and at most `most`.
    """
    best, area = 0.0, 0.0
    for image in page.images:
        width_pt = float(image["x1"]) - float(image["x0"])
        height_pt = float(image["bottom"]) - float(image["top"])
        pixels = image.get("srcsize") or (0, 0)
        if width_pt > 0 and height_pt > 0 and pixels[0] and width_pt * height_pt > area:
            best, area = float(pixels[0]) / (width_pt / 72), width_pt * height_pt
    return int(min(max(best or most, MIN_SCAN_DPI), most))


def _image_cover(page: Any) -> float:
    """The share of the page covered by its images (overlaps counted twice, at most 1)."""
    width, height = float(page.width), float(page.height)
    x0, top, x1, bottom = (float(v) for v in page.bbox)
    area = 0.0
    for image in page.images:
        w = min(float(image["x1"]), x1) - max(float(image["x0"]), x0)
        h = min(float(image["bottom"]), bottom) - max(float(image["top"]), top)
        area += max(w, 0.0) * max(h, 0.0)
    return min(area / (width * height), 1.0) if width * height else 0.0


def _margin_key(line: _Line, page: _Page) -> tuple[str, str] | None:
    if line.bottom <= page.height * MARGIN_SHARE:
        zone = "top"
    elif line.top >= page.height * (1 - MARGIN_SHARE):
        zone = "bottom"
    else:
        return None
    return zone, re.sub(r"\d+", "0", line.text)


def _remove_repeated_lines(pages: list[_Page]) -> None:
    """Removes, from every page, the margin lines repeated (digits aside) on enough pages."""
    margins = [[(line, _margin_key(line, page)) for line in _lines(page.words)] for page in pages]
    counts = Counter(key for page in margins for key in {key for _, key in page if key})
    needed = max(REPEAT_MIN_PAGES, math.ceil(REPEAT_SHARE * len(pages)))
    repeated = {key for key, count in counts.items() if count >= needed}
    if not repeated:
        return
    for page, lines in zip(pages, margins, strict=True):
        dropped = {id(w) for line, key in lines if key in repeated for w in line.words}
        page.words = [w for w in page.words if id(w) not in dropped]


def _heading_levels(pages: list[_Page]) -> dict[float, int]:
    """
    Heading level by font size (rounded to half points): sizes well above the body's (the size of most characters,
    tables' included), largest first.
    """
    sizes: Counter[float] = sum((page.sizes for page in pages), Counter())
    if not sizes:
        return {}
    body = sizes.most_common(1)[0][0]
    larger = sorted((s for s in sizes if s >= body * HEADING_SIZE_RATIO), reverse=True)
    return {size: min(level, 6) for level, size in enumerate(larger, start=1)}


def _half_point(size: Any) -> float:
    return round(float(size or 0) * 2) / 2


def _escape(text: str) -> str:
    """A text line that a Markdown reader would take for a heading or a table row, escaped."""
    return "\\" + text if text.startswith(("#", "|")) else text


def _paragraph(lines: list[_Line], levels: dict[float, int]) -> str:
    text = [line.text for line in lines]
    level = levels.get(_half_point(lines[0].size))
    joined = " ".join(text)
    if level and len(lines) <= HEADING_MAX_LINES and len(joined) <= HEADING_MAX_CHARS:
        return f"{'#' * level} {joined}"
    return "\n".join(_escape(t) for t in text)


def _render(pages: list[_Page]) -> list[str]:
    """Each page's text: paragraphs and tables in reading order, separated by blank lines."""
    levels = _heading_levels(pages)
    texts = []
    last_table: _Table | None = None
    for page in pages:
        if page.ocr_text is not None:
            texts.append(page.ocr_text)
            last_table = None
            continue
        ordered = _reading_order(page.words, page.tables, page.width)
        gaps = [
            b.top - a.bottom
            for (a, ka), (b, kb) in itertools.pairwise(ordered)
            if ka == kb and isinstance(a, _Line) and isinstance(b, _Line) and b.top >= a.bottom
        ]
        usual_gap = median(gaps) if gaps else 0.0
        blocks: list[str] = []
        paragraph: list[_Line] = []
        previous_key: Any = None
        for index, (item, key) in enumerate(ordered):
            if isinstance(item, _Table):
                if paragraph:
                    blocks.append(_paragraph(paragraph, levels))
                    paragraph = []
                header = None
                opens_page = all(
                    isinstance(i, _Line) and i.bottom <= page.height * MARGIN_SHARE for i, _ in ordered[:index]
                )
                if opens_page and last_table is not None and _continues(last_table, item):
                    header = _table_header(last_table.rows)
                blocks.append(table_to_markdown(item.rows, header))
                last_table = item if header is None else _Table(item.bbox, [header, *item.rows])
                continue
            if paragraph and (key != previous_key or _breaks(paragraph[-1], item, usual_gap)):
                blocks.append(_paragraph(paragraph, levels))
                paragraph = []
            paragraph.append(item)
            previous_key = key
        if paragraph:
            blocks.append(_paragraph(paragraph, levels))
        body = [i for i, _ in ordered if not (isinstance(i, _Line) and i.top >= page.height * (1 - MARGIN_SHARE))]
        if not body or not isinstance(body[-1], _Table):
            last_table = None
        texts.append("\n\n".join(block for block in blocks if block))
    return texts


def _breaks(previous: _Line, line: _Line, usual_gap: float) -> bool:
    """Whether `line` starts a new paragraph after `previous`: a wider gap than usual, or another font size."""
    height = max(previous.bottom - previous.top, line.bottom - line.top)
    if line.top - previous.bottom > usual_gap + height / 2:
        return True
    return abs(line.size - previous.size) > SIZE_CHANGE * max(line.size, previous.size)


def _continues(previous: _Table, table: _Table) -> bool:
    """Whether a table opening a page goes on with the previous page's last table: same columns, no header."""
    same_edges = all(
        abs(a - b) <= CONTINUED_TABLE_TOLERANCE
        for a, b in ((previous.bbox[0], table.bbox[0]), (previous.bbox[2], table.bbox[2]))
    )
    header = _table_header(previous.rows)
    first = _table_header(table.rows)
    return same_edges and len(first) == len(header) and first != header
