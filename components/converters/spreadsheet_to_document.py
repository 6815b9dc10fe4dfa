"""Spreadsheets (.xlsx, .xlsm, .ods, .xls) as Markdown: a heading per sheet, its title lines, then its table."""

from __future__ import annotations

import bisect
import datetime
import functools
import io
import itertools
import re
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import openpyxl
from haystack import Document, component, logging
from haystack.components.converters.utils import get_bytestream_from_source, normalize_metadata
from haystack.dataclasses import ByteStream
from odf import teletype
from odf.namespaces import OFFICENS, STYLENS, TABLENS, TEXTNS
from odf.opendocument import load as load_odf
from openpyxl.utils.datetime import from_excel
from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

logger = logging.getLogger(__name__)

# How values are displayed (French): "1 268 430,00", "69,5 %", "30/09/2025", "VRAI".
DECIMAL_SEPARATOR = ","
THOUSANDS_SEPARATOR = " "  # a regular space: what people type when they search for an amount
PERCENT_SUFFIX = " %"
TRUE_TEXT = "VRAI"
FALSE_TEXT = "FAUX"
DATE_FORMAT = "%d/%m/%Y"
GENERAL_FORMAT_NAMES = {"", "general", "standard"}
# Written at the end of a sheet's section when the sheet holds more than `max_cells` cells.
TRUNCATED_SHEET_TEXT = "Feuille tronquée : {kept} lignes sur {total} lues."
# Joins the parts of a header written on several rows: "Quantités / Marché".
HEADER_PARTS_JOINER = " / "

# From this file size on, .xlsx/.xlsm files are read with openpyxl's read-only mode (streamed: bounded memory),
# which knows neither merged cells nor hidden rows and columns.
READ_ONLY_MIN_BYTES = 5 * 1024 * 1024
MAX_COLUMNS = 16_384  # Excel's limit; .ods cells repeated beyond it are ignored
HEADER_LOOKAHEAD = 5  # rows looked at below a candidate header row
MAX_HEADER_ROWS = 3

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (BIFF8 in an OLE2 container)
_ZIP_MAGIC = b"PK\x03\x04"
_FORMAT_TOKEN = re.compile(
    r"""
    "(?P<quoted>[^"]*)"?
    | \\(?P<escaped>.)
    | [_*].                                  # padding to a character's width, fill: nothing to show
    | \[\$(?P<currency>[^\]-]*)[^\]]*\]      # [$€-40C]: a currency symbol and a locale
    | \[[^\]]*\]                             # colors, conditions
    | (?P<gen>general|standard)
    | (?P<exp>[Ee][+-])
    | (?P<ph>[0\#?])
    | (?P<dot>\.)
    | (?P<comma>,)
    | (?P<pct>%)
    | (?P<at>@)
    | (?P<lit>.)
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_DATE_CODES = re.compile(r"[dmyhs]|am/pm|a/p", re.IGNORECASE)
_TIME_CODES = re.compile(r"[hs]|am/pm|a/p", re.IGNORECASE)
_ELAPSED = re.compile(r"\[(h+|m+|s+)\]", re.IGNORECASE)
_ODS_GROUPS = {
    "table-rows",
    "table-header-rows",
    "table-row-group",
    "table-columns",
    "table-header-columns",
    "table-column-group",
}


# ------------------------------------------------------------------------------------------------- number formats


@functools.lru_cache(maxsize=1024)
def _split_sections(number_format: str) -> tuple[str, ...]:
    """The `;`-separated sections of a number format (positive; negative; zero; text), quotes respected."""
    sections, current, quoted, escaped = [], [], False, False
    for ch in number_format:
        if escaped:
            escaped = False
        elif ch == "\\" and not quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            sections.append("".join(current))
            current = []
            continue
        current.append(ch)
    sections.append("".join(current))
    return tuple(sections)


@functools.lru_cache(maxsize=1024)
def _date_codes(number_format: str) -> str:
    """A format's first section without its quoted text, escaped characters and bracketed parts (colors, locales)."""
    section = _ELAPSED.sub(lambda m: m.group(1), _split_sections(number_format)[0])
    section = re.sub(r'"[^"]*"?', "", section)
    section = re.sub(r"\\.|_.|\*.", "", section)
    return re.sub(r"\[[^\]]*\]", "", section)


@functools.lru_cache(maxsize=1024)
def _tokenize(section: str) -> tuple[tuple[str, str], ...]:
    """
    The tokens of a number format section: ("lit", text), ("ph", "0"/"#"/"?"), ("dot", "."), ("comma", ","),
    ("pct", "%"), ("exp", "+"/"-"), ("gen", "General").
    """
    tokens = []
    for match in _FORMAT_TOKEN.finditer(section):
        kind = match.lastgroup
        if kind in ("quoted", "escaped", "currency", "lit"):
            tokens.append(("lit", match.group(kind)))
        elif kind == "exp":
            tokens.append(("exp", match.group(kind)[1]))
        elif kind is not None:
            tokens.append((kind, match.group(kind)))
    return tuple(tokens)


def _general_number(value: float) -> str:
    """
    Excel's General format: integers without decimals, other numbers with up to 10 significant digits (rounded to
    the unit from 10 digits before the decimal point on), in scientific notation only when very large or small.
    """
    if isinstance(value, int):
        return str(value)
    magnitude = abs(value)
    if value.is_integer() and magnitude < 1e15:
        return str(int(value))
    if 1e10 <= magnitude < 1e15:
        return str(round(value))
    text = f"{value:.10g}"
    if "e" in text and 1e-9 <= magnitude < 1e15:
        text = f"{Decimal(text):f}"
    elif "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}E{'+' if int(exponent) >= 0 else '-'}{abs(int(exponent)):02d}"
    return text.replace(".", DECIMAL_SEPARATOR)


def _group(digits: str) -> str:
    head = len(digits) % 3 or 3
    return THOUSANDS_SEPARATOR.join([digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)])


def _fill_integer(digits: str, tokens: tuple[tuple[str, str], ...]) -> str:
    """Digits laid right to left into integer placeholders interleaved with literals (`00" "00" "00`)."""
    placeholders = sum(1 for kind, _ in tokens if kind == "ph")
    remaining = digits.lstrip("0") if ("ph", "#") in tokens else digits
    out: list[str] = []
    seen = 0
    for kind, text in reversed(tokens):
        if kind != "ph":
            out.append(text)
            continue
        seen += 1
        if seen == placeholders:  # the leftmost placeholder takes all the digits left
            out.append(remaining or ("0" if text == "0" else ""))
        elif remaining:
            out.append(remaining[-1])
            remaining = remaining[:-1]
        elif text == "0":
            out.append("0")
    return "".join(reversed(out))


@dataclass(frozen=True)
class _NumberLayout:
    """What a number format section asks for, read once per format."""

    prefix: str = ""
    suffix: str = ""
    text_only: bool = False  # no digit placeholder: the section shows its literals only
    general: bool = False  # General with literals around it: `General" m²"`
    multiplier: Decimal = Decimal(1)  # percent signs (x100 each), trailing commas (/1000 each)
    decimals: int = 0
    required_decimals: int = 0
    int_zeros: int = 0
    grouping: bool = False
    int_tokens: tuple[tuple[str, str], ...] | None = None  # placeholders and literals, when literals interleave
    exponent: tuple[int, bool] | None = None  # exponent digits and whether to write "+"


@functools.lru_cache(maxsize=1024)
def _layout(section: str) -> _NumberLayout | None:
    """A format section's layout, None for the ones not supported (fractions): they fall back to General."""
    tokens = _tokenize(section)
    positions = [i for i, (kind, _) in enumerate(tokens) if kind == "ph"]
    if any(kind == "gen" for kind, _ in tokens) or (not positions and any(kind == "at" for kind, _ in tokens)):
        # General with literals around it (`General" m²"`), or a number in a text-formatted cell (`@`)
        parts = ["\0" if kind in ("gen", "at") else text for kind, text in tokens if kind in ("lit", "gen", "at")]
        prefix, _, suffix = "".join(parts).partition("\0")
        return _NumberLayout(prefix=prefix, suffix=suffix, general=True)
    if not positions:  # as the zero section of accounting formats: "-"
        return _NumberLayout(prefix="".join(text for kind, text in tokens if kind in ("lit", "pct")), text_only=True)
    first, last = positions[0], positions[-1]
    if first and tokens[first - 1][0] == "dot":  # `.00`
        first -= 1
    while last + 1 < len(tokens) and tokens[last + 1][0] == "comma":
        last += 1
    number = tokens[first : last + 1]
    if any(kind == "lit" and "/" in text for kind, text in number):
        return None
    suffix = "".join(text for kind, text in tokens[last + 1 :] if kind in ("lit", "pct"))
    exp_at = next((i for i, (kind, _) in enumerate(number) if kind == "exp"), len(number))
    dot_at = next((i for i, (kind, _) in enumerate(number[:exp_at]) if kind == "dot"), exp_at)
    int_tokens = number[:dot_at]
    decimals = [text for kind, text in number[dot_at:exp_at] if kind == "ph"]
    int_ph = [i for i, (kind, _) in enumerate(int_tokens) if kind == "ph"]
    commas = [i for i, (kind, _) in enumerate(int_tokens) if kind == "comma"]
    # Commas after the last digit placeholder divide by 1000 each (`#,##0,` shows thousands).
    last_int = int_ph[-1] if int_ph else -1
    scale = sum(1 for i in commas if i > last_int) + sum(1 for kind, _ in number[dot_at:] if kind == "comma")
    percent = sum(1 for kind, _ in tokens if kind == "pct")
    exponent = None
    if exp_at < len(number):
        exponent = (sum(1 for kind, _ in number[exp_at:] if kind == "ph"), number[exp_at][1] == "+")
    interleaved = any(kind == "lit" for kind, _ in int_tokens)
    return _NumberLayout(
        prefix="".join(text for kind, text in tokens[:first] if kind in ("lit", "pct")),
        suffix=PERCENT_SUFFIX + suffix[1:] if suffix.startswith("%") else suffix,
        multiplier=Decimal(100) ** percent / Decimal(1000) ** scale,
        decimals=len(decimals),
        required_decimals=max((i + 1 for i, ph in enumerate(decimals) if ph == "0"), default=0),
        int_zeros=sum(1 for kind, text in int_tokens if kind == "ph" and text == "0"),
        grouping=any(i < last_int for i in commas),
        int_tokens=tuple(t for t in int_tokens if t[0] != "comma") if interleaved else None,
        exponent=exponent,
    )


def _format_section(value: float, section: str, signed: bool) -> str:
    """A number shown with one format section; `signed` writes "-" before negative values."""
    layout = _layout(section)
    sign = "-" if signed and value < 0 else ""
    if layout is None:
        return sign + _general_number(abs(value))
    if layout.text_only:
        return layout.prefix
    if layout.general:
        return sign + layout.prefix + _general_number(abs(value)) + layout.suffix
    magnitude = Decimal(repr(abs(value)) if isinstance(value, float) else abs(value)) * layout.multiplier
    exponent_text = ""
    if layout.exponent is not None:
        exponent = magnitude.adjusted() if magnitude else 0
        magnitude = magnitude.scaleb(-exponent)
        if magnitude.quantize(Decimal(1).scaleb(-layout.decimals), ROUND_HALF_UP) >= 10:
            magnitude, exponent = magnitude / 10, exponent + 1
        digits, plus = layout.exponent
        exponent_sign = "-" if exponent < 0 else ("+" if plus else "")
        exponent_text = f"E{exponent_sign}{abs(exponent):0{max(digits, 1)}d}"
    rounded = magnitude.quantize(Decimal(1).scaleb(-layout.decimals), ROUND_HALF_UP)
    int_digits, _, frac_digits = f"{rounded:f}".partition(".")
    frac_digits = frac_digits[: layout.required_decimals] + frac_digits[layout.required_decimals :].rstrip("0")
    if layout.int_tokens is not None:
        integer = _fill_integer(int_digits, layout.int_tokens)
    else:
        integer = "" if int_digits == "0" and not layout.int_zeros else int_digits.zfill(layout.int_zeros)
        integer = _group(integer) if layout.grouping and integer else integer
    if not rounded:  # rounded to zero: no "-0,00"
        sign = ""
    text = integer + (DECIMAL_SEPARATOR + frac_digits if frac_digits else "") + exponent_text
    return sign + layout.prefix + text + layout.suffix


def _format_temporal(value: Any, number_format: str) -> str:
    """Dates as dd/mm/yyyy, with the time (hh:mm, :ss when the format shows seconds) when the format has one."""
    codes = _date_codes(number_format)
    general = codes.strip().lower() in GENERAL_FORMAT_NAMES
    seconds = "s" in codes.lower()
    if isinstance(value, datetime.timedelta):
        total = int(value.total_seconds())
        hours, rest = divmod(abs(total), 3600)
        return f"{'-' if total < 0 else ''}{hours}:{rest // 60:02d}" + (f":{rest % 60:02d}" if seconds else "")
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M:%S" if seconds or (general and value.second) else "%H:%M")
    if not isinstance(value, datetime.datetime):
        return value.strftime(DATE_FORMAT)
    if general:
        has_date, has_time, seconds = True, value.time() != datetime.time(0), bool(value.second)
    else:
        has_time = bool(_TIME_CODES.search(codes))
        has_date = bool(re.search(r"[dy]", codes, re.IGNORECASE)) or ("m" in codes.lower() and not has_time)
    time_format = "%H:%M:%S" if seconds else "%H:%M"
    if has_date and has_time:
        return value.strftime(f"{DATE_FORMAT} {time_format}")
    return value.strftime(time_format if has_time else DATE_FORMAT)


@functools.lru_cache(maxsize=1024)
def is_date_format(number_format: str | None) -> bool:
    """
    Whether an Excel number format shows a date or a time.

    :param number_format: The format code.
    :returns: True for `dd/mm/yyyy`, `h:mm`, `[$-40C]d mmmm yyyy`..., False for numbers and General.
    """
    codes = _date_codes(number_format or "")
    return codes.strip().lower() not in GENERAL_FORMAT_NAMES and bool(_DATE_CODES.search(codes))


@functools.lru_cache(maxsize=1024)
def _negative_section_needs_sign(section: str) -> bool:
    """A negative section without a minus sign shows the number in red: keep the sign that the color gave."""
    return not any(kind == "lit" and ("-" in text or "(" in text) for kind, text in _tokenize(section))


def _format_number(value: float, number_format: str) -> str:
    if is_date_format(number_format):
        try:
            return _format_temporal(from_excel(value), number_format)
        except (OverflowError, ValueError):
            return _general_number(value)
    sections = _split_sections(number_format)
    if value < 0 and len(sections) >= 2:
        section = sections[1]
        return " ".join(_format_section(value, section, _negative_section_needs_sign(section)).split())
    section = sections[2] if value == 0 and len(sections) >= 3 else sections[0]
    if section.strip().lower() in GENERAL_FORMAT_NAMES:
        return _general_number(value)
    return " ".join(_format_section(value, section, signed=True).split())


def format_cell(value: Any, number_format: str | None = "General") -> str:
    """
    A cell's value as a French spreadsheet shows it with its number format: decimal comma, space thousands separator
    (`#,##0.00` gives `1 268 430,00`), `0.0%` gives `69,5 %`, any date format gives `30/09/2025` (with the time when
    the format has one), currency symbols and quoted suffixes kept (`#,##0.00 "€ HT"` gives `1 268 430,00 € HT`),
    booleans VRAI/FAUX. The common formats only: fractions and others fall back to General (integers without
    decimals, other numbers with up to 10 significant digits).

    :param value: The cell's value (None, str, bool, int, float, date, datetime, time or timedelta).
    :param number_format: The cell's Excel number format code, as openpyxl gives it.
    :returns: The displayed text, "" for an empty cell.
    """
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, bool):
        return TRUE_TEXT if value else FALSE_TEXT
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        return _format_temporal(value, number_format or "General")
    if isinstance(value, (int, float)):
        return _format_number(value, number_format or "General")
    return str(value)


# ------------------------------------------------------------------------------------------------- reading sheets


@dataclass
class _Cell:
    text: str
    is_value: bool  # a number, date or boolean (not text)


@dataclass
class _Sheet:
    """The non-empty cells of a sheet (sparse, in the file's coordinates), read up to a number of cells."""

    name: str
    hidden: bool
    include_hidden: bool
    cell_limit: int
    rows: dict[int, dict[int, _Cell]] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # first row, first col, last row, last col
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: set[int] = field(default_factory=set)
    unread_rows: int = 0  # non-empty rows past the cell limit
    full: bool = False  # the cell limit is reached: rows are counted, no longer stored
    stored: int = 0

    def add_row(self, index: int, cells: dict[int, _Cell], hidden: bool = False, repeat: int = 1) -> None:
        """Stores a non-empty row (`repeat` times), or counts it once the cell limit is reached."""
        if not cells:
            return
        for k in range(repeat):
            if self.full or self.stored + len(cells) > self.cell_limit:
                self.full = True
                self.count_unread(hidden, repeat - k)
                return
            self.rows[index + k] = cells
            self.stored += len(cells)
            if hidden:
                self.hidden_rows.add(index + k)

    def count_unread(self, hidden: bool, repeat: int = 1) -> None:
        """Counts a non-empty row past the cell limit."""
        if self.include_hidden or not hidden:
            self.unread_rows += repeat


def _cell(value: Any, number_format: str | None) -> _Cell | None:
    text = format_cell(value, number_format)
    if not text.strip():
        return None
    return _Cell(text, is_value=not isinstance(value, str))


def _first_row(row: tuple[Any, ...]) -> int:
    return next((c.row for c in row if getattr(c, "row", None)), 0)


def _read_openpyxl(data: bytes, include_hidden: bool, cell_limit: int) -> list[_Sheet]:
    """.xlsx and .xlsm with openpyxl: cached formula results, number formats, merged cells, hidden rows and columns."""
    read_only = len(data) >= READ_ONLY_MIN_BYTES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unsupported extensions, missing default styles...
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=read_only, data_only=True, keep_links=False)
    sheets = []
    try:
        for ws in workbook.worksheets:
            sheet = _Sheet(ws.title, ws.sheet_state != "visible", include_hidden, cell_limit)
            sheets.append(sheet)
            hidden_rows: set[int] = set()
            if read_only:
                ws.reset_dimensions()  # stored dimensions are often wrong: read rows as wide as their cells
                rows: Iterable[tuple[int, list[Any]]] = (
                    (_first_row(row), [c for c in row if c.value is not None]) for row in ws.iter_rows() if row
                )
            else:
                hidden_rows = {index for index, dim in ws.row_dimensions.items() if dim.hidden}
                for dim in ws.column_dimensions.values():
                    if dim.hidden and dim.min:
                        sheet.hidden_cols.update(range(dim.min, min(dim.max or dim.min, MAX_COLUMNS) + 1))
                sheet.merges = [(r.min_row, r.min_col, r.max_row, r.max_col) for r in ws.merged_cells.ranges]
                # `_cells` holds the cells the file has; iter_rows() would create every cell of the used rectangle.
                by_row = itertools.groupby(sorted(ws._cells.items()), key=lambda item: item[0][0])
                rows = ((r, [c for _, c in group if c.value is not None]) for r, group in by_row)
            for r, source_cells in rows:
                if not source_cells:
                    continue
                if sheet.full:
                    sheet.count_unread(r in hidden_rows)
                    continue
                cells = {c.column: x for c in source_cells if (x := _cell(c.value, c.number_format))}
                sheet.add_row(r, cells, hidden=r in hidden_rows)
    finally:
        workbook.close()
    return sheets


def _read_calamine(data: bytes, include_hidden: bool, cell_limit: int) -> list[_Sheet]:
    """.xls (and .xlsb) with python-calamine: values only (General format), merged cells, hidden sheets."""
    sheets = []
    with CalamineWorkbook.from_object(io.BytesIO(data)) as workbook:
        for metadata in workbook.sheets_metadata:
            if metadata.typ != SheetTypeEnum.WorkSheet:
                continue
            source = workbook.get_sheet_by_name(metadata.name)
            sheet = _Sheet(metadata.name, metadata.visible != SheetVisibleEnum.Visible, include_hidden, cell_limit)
            sheets.append(sheet)
            for r, values in enumerate(source.to_python(skip_empty_area=False)):
                if sheet.full:
                    sheet.count_unread(False, int(any(v != "" for v in values)))
                    continue
                sheet.add_row(r, {c: x for c, v in enumerate(values) if v != "" and (x := _cell(v, "General"))})
            sheet.merges = [(r1, c1, r2, c2) for (r1, c1), (r2, c2) in source.merged_cell_ranges or []]
    return sheets


def _odf_int(element: Any, name: str) -> int:
    return max(int(element.attributes.get((TABLENS, name)) or 1), 1)


def _odf_hidden(element: Any) -> bool:
    return element.attributes.get((TABLENS, "visibility"), "visible") != "visible"


def _odf_cell(element: Any) -> _Cell | None:
    """An .ods cell's displayed text: its paragraphs (`text:p`)."""
    text = "\n".join(teletype.extractText(p) for p in element.childNodes if p.qname == (TEXTNS, "p"))
    value_type = element.attributes.get((OFFICENS, "value-type"))
    if not text.strip() and value_type in ("float", "percentage", "currency"):
        text = format_cell(float(element.attributes.get((OFFICENS, "value")) or 0))
    if not text.strip():
        return None
    return _Cell(text, is_value=value_type not in (None, "string"))


def _read_odf_row(element: Any, sheet: _Sheet, row_index: int) -> None:
    """One `table:table-row` (maybe repeated): its cells, its merged cells (spans), its visibility."""
    cells: dict[int, _Cell] = {}
    c = 0
    for child in element.childNodes:
        if child.qname not in ((TABLENS, "table-cell"), (TABLENS, "covered-table-cell")) or c >= MAX_COLUMNS:
            continue
        repeat = _odf_int(child, "number-columns-repeated")
        content = _odf_cell(child)
        if content is not None:
            for k in range(min(repeat, MAX_COLUMNS - c, sheet.cell_limit)):
                cells[c + k] = content
        cols_spanned = _odf_int(child, "number-columns-spanned")
        rows_spanned = _odf_int(child, "number-rows-spanned")
        if cols_spanned > 1 or rows_spanned > 1:
            sheet.merges.append((row_index, c, row_index + rows_spanned - 1, c + cols_spanned - 1))
        c += repeat
    repeat = _odf_int(element, "number-rows-repeated")
    sheet.add_row(row_index, cells, hidden=_odf_hidden(element), repeat=repeat)


def _read_odf(data: bytes, include_hidden: bool, cell_limit: int) -> list[_Sheet]:
    """.ods with odfpy: each cell's displayed text, repeated rows and cells never expanded when empty."""
    document = load_odf(io.BytesIO(data))
    hidden_styles = {
        style.attributes.get((STYLENS, "name"))
        for style in document.automaticstyles.childNodes
        if style.qname == (STYLENS, "style")
        and style.attributes.get((STYLENS, "family")) == "table"
        and any(p.attributes.get((TABLENS, "display")) == "false" for p in style.childNodes)
    }
    sheets = []
    for table in document.spreadsheet.childNodes:
        if table.qname != (TABLENS, "table"):
            continue
        name = table.attributes.get((TABLENS, "name")) or ""
        hidden = table.attributes.get((TABLENS, "style-name")) in hidden_styles
        sheet = _Sheet(name, hidden, include_hidden, cell_limit)
        sheets.append(sheet)
        row_index, col_index = 0, 0
        pending = list(reversed(table.childNodes))
        while pending:
            element = pending.pop()
            tag = element.qname[1] if element.qname[0] == TABLENS else ""
            if tag in _ODS_GROUPS:
                pending.extend(reversed(element.childNodes))
            elif tag == "table-column":
                repeat = _odf_int(element, "number-columns-repeated")
                if _odf_hidden(element):
                    sheet.hidden_cols.update(range(col_index, min(col_index + repeat, MAX_COLUMNS)))
                col_index += repeat
            elif tag == "table-row":
                _read_odf_row(element, sheet, row_index)
                row_index += _odf_int(element, "number-rows-repeated")
    return sheets


def _read_workbook(data: bytes, include_hidden: bool, cell_limit: int) -> list[_Sheet]:
    """The sheets of a workbook, its format told by its bytes (not by its name)."""
    if data.startswith(_OLE_MAGIC):
        return _read_calamine(data, include_hidden, cell_limit)
    if data.startswith(_ZIP_MAGIC):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
        if "xl/workbook.bin" in names:
            return _read_calamine(data, include_hidden, cell_limit)
        if "content.xml" in names:
            return _read_odf(data, include_hidden, cell_limit)
        if "[Content_Types].xml" in names:
            try:
                return _read_openpyxl(data, include_hidden, cell_limit)
            except Exception as error:  # files written by odd tools: python-calamine is more lenient (values only)
                logger.debug("openpyxl could not read a workbook ({error}): trying python-calamine", error=error)
                return _read_calamine(data, include_hidden, cell_limit)
    raise ValueError("not a spreadsheet (.xlsx, .xlsm, .ods, .xls)")


# ------------------------------------------------------------------------------------------------- sheets as Markdown


def _clean(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _text_line(cells: Iterable[_Cell]) -> str:
    """A row above the table as a line of text, which Markdown must not read as a heading."""
    line = " ".join(_clean(cell.text) for cell in cells)
    return "\\" + line if line.startswith("#") else line


@dataclass
class _Row:
    index: int
    cells: dict[int, _Cell]  # visible cells holding a value (a merged range's first cell only)
    last: int  # the last column covered, merged ranges included
    width: int  # the number of columns covered, merged ranges included

    @property
    def has_value(self) -> bool:
        return any(cell.is_value for cell in self.cells.values())


def _find_header(rows: list[_Row]) -> int | None:
    """
    The position of the table's header row: the first row with at least 2 cells below which rows are no wider
    (title and "Chantier : X" rows above a table are narrower than it), None when there is no table.
    """
    for i, row in enumerate(rows):
        below = rows[i + 1 : i + 1 + HEADER_LOOKAHEAD]
        if len(row.cells) < 2 or not below:
            continue
        lasts = sorted(r.last for r in below)
        widths = sorted(r.width for r in below)
        if lasts[len(lasts) // 2] <= row.last and 2 * row.width >= widths[len(widths) // 2]:
            return i
    return None


def _header_size(rows: list[_Row], merges: list[tuple[int, int, int, int]]) -> int:
    """
    How many rows the header takes: 2 or 3 when these rows hold text only and either the lower ones lie inside
    cells merged down from the first, or the row below them holds numbers and the lower ones are header-like (as wide
    as half the first, or inside such a merge). A chapter row « 1 | Terrassements » under a two-row header is the
    table's first row, not a third header row.
    """

    def merged_into(row: _Row) -> bool:
        return any(m[0] < row.index <= m[2] for m in merges)

    for size in range(MAX_HEADER_ROWS, 1, -1):
        if len(rows) <= size or any(r.has_value for r in rows[:size]):
            continue
        lower = rows[1:size]
        if not all(len(r.cells) >= 2 and r.last <= rows[0].last for r in lower):
            continue
        if all(merged_into(r) for r in lower):  # cells merged down from the first row: one header, whatever follows
            return size
        if rows[size].has_value and all(2 * r.width >= rows[0].width or merged_into(r) for r in lower):
            return size
    return 1


def _merge_copies(merges: list[tuple[int, int, int, int]], sheet: _Sheet, table: list[_Row], header: set[int]):
    """
    Where merged cells show their value in the table: in every cell of the range in the header, and down the range's
    first column (row labels) in the body, so that each row names its column and its row.
    """
    indexes = [row.index for row in table]
    copies: dict[tuple[int, int], str] = {}
    for r1, c1, r2, c2 in merges:
        origin = sheet.rows.get(r1, {}).get(c1)
        if origin is None:
            continue
        for position in range(bisect.bisect_left(indexes, r1), bisect.bisect_right(indexes, r2)):
            r = indexes[position]
            for c in range(c1, min(c2, MAX_COLUMNS) + 1) if r in header else (c1,):
                if (r, c) != (r1, c1):
                    copies[(r, c)] = origin.text
    return copies


def _sheet_rows(sheet: _Sheet, include_hidden: bool) -> list[_Row]:
    """The sheet's non-empty visible rows."""
    spans = {(m[0], m[1]): m[3] for m in sheet.merges}
    rows = []
    for index in sorted(sheet.rows):
        if not include_hidden and index in sheet.hidden_rows:
            continue
        cells = {c: x for c, x in sorted(sheet.rows[index].items()) if include_hidden or c not in sheet.hidden_cols}
        if cells:
            covered = {c for c0 in cells for c in range(c0, spans.get((index, c0), c0) + 1)}
            if not include_hidden:
                covered -= sheet.hidden_cols
            rows.append(_Row(index, cells, max(covered | set(cells)), len(covered | set(cells))))
    return rows


def _sheet_markdown(sheet: _Sheet, include_hidden: bool, max_cells: int) -> tuple[list[str], int, int]:
    """
    A sheet's Markdown blocks: its text lines, then its table.

    :returns: The blocks, the number of rows written and the number of non-empty rows of the sheet.
    """
    rows = _sheet_rows(sheet, include_hidden)
    total = len(rows) + sheet.unread_rows
    start = _find_header(rows)
    if start is None:
        return [_text_line(row.cells.values()) for row in rows], len(rows), total
    size = _header_size(rows[start:], sheet.merges)
    table = rows[start:]
    header_indexes = {row.index for row in table[:size]}
    copies = _merge_copies(sheet.merges, sheet, table, header_indexes)

    def text(row: _Row, c: int) -> str:
        cell = row.cells.get(c)
        return _clean(cell.text if cell else copies.get((row.index, c), ""))

    candidates = {c for row in table for c in row.cells} | {c for _, c in copies}
    if not include_hidden:
        candidates -= sheet.hidden_cols
    columns = [c for c in sorted(candidates) if any(text(row, c) for row in table)]
    body = table[size : size + max(max_cells // len(columns) - size, 0)]
    header = []
    for c in columns:
        parts: list[str] = []
        for part in (text(row, c) for row in table[:size]):
            if part and part not in parts:
                parts.append(part)
        header.append(HEADER_PARTS_JOINER.join(parts))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(text(row, c) for c in columns) + " |" for row in body]
    blocks = [_text_line(row.cells.values()) for row in rows[:start]]
    return [*blocks, "\n".join(lines)], start + size + len(body), total


TITLE_LINES = 3  # text lines above a table that make the workbook's title
TITLE_CHARS = 160


def workbook_title(blocks: list[str]) -> str:
    """The first text lines above a sheet's table (its title, « Affaire … », « Chantier : … »), joined with « — »."""
    lines = []
    for block in blocks:
        if block.startswith("|"):
            break
        lines += [line.strip() for line in block.split("\n") if line.strip()]
    title = " — ".join(lines[:TITLE_LINES])
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"


@component
class SpreadsheetToDocument:
    """
    Converts workbooks (.xlsx, .xlsm, .ods, .xls) to one Document each: for every sheet, in workbook order, a heading
    `## <sheet name>`, the lines of text above its table (title, "Chantier : X"), then the table as a Markdown pipe
    table with its header row, so that a structure-aware splitter keeps rows whole and repeats the header.

    ### Usage example
    ```python
    converter = SpreadsheetToDocument()
    documents = converter.run(sources=["DQE lot 3.xlsx"])["documents"]
    print(documents[0].content)  # "## DQE\\n\\n| N° | Désignation | U | Qté | PU | Montant |\\n|---|..."
    ```

    Cells read as a person sees them: cached formula results (never formulas), numbers, dates and percentages as
    their number format shows them, in French (`1 268 430,00 €`, `69,5 %`, `30/09/2025`); .ods cells give their
    displayed text; .xls cells (read with python-calamine) their values in the General format. The table's header
    is the first row of at least 2 cells below which rows are no wider; the rows above it are text lines. Merged
    cells repeat their value across the header and down row labels. A header written on 2 or 3 rows of text above
    the numbers becomes one row ("Quantités / Marché"). Empty rows and columns are dropped.

    Hidden sheets, hidden rows and hidden columns are left out, as a person reading the workbook does not see them,
    unless `include_hidden` is True. .xlsx/.xlsm files of 5 MB or more are streamed (openpyxl's read-only mode), which
    knows neither hidden rows and columns nor merged cells; .xls files give neither hidden rows nor hidden columns.
    """

    def __init__(self, include_hidden: bool = False, max_cells: int = 200_000, store_full_path: bool = False) -> None:
        """
        :param include_hidden: Keep hidden sheets, rows and columns.
        :param max_cells: The most cells (rows times columns) read from a sheet; a bigger sheet keeps its first rows,
            with a warning and a line "Feuille tronquée : N lignes sur M lues.".
        :param store_full_path: Keep the full path in `file_path` metadata, else only the file name.
        """
        self.include_hidden = include_hidden
        self.max_cells = max_cells
        self.store_full_path = store_full_path

    def _convert(self, data: bytes, source: Any) -> tuple[str, list[str], str]:
        sections, names, title = [], [], ""
        for sheet in _read_workbook(data, self.include_hidden, self.max_cells):
            if sheet.hidden and not self.include_hidden:
                continue
            blocks, kept, total = _sheet_markdown(sheet, self.include_hidden, self.max_cells)
            if not total:
                continue
            if kept < total:
                logger.warning(
                    "Sheet {sheet} of {source} holds more than {max_cells} cells: only its first {kept} rows out of "
                    "{total} are read.",
                    sheet=sheet.name,
                    source=source,
                    max_cells=self.max_cells,
                    kept=kept,
                    total=total,
                )
                blocks.append(TRUNCATED_SHEET_TEXT.format(kept=kept, total=total))
            names.append(sheet.name)
            title = title or workbook_title(blocks)
            sections.append("\n\n".join([f"## {' '.join(sheet.name.split())}", *blocks]))
        return "\n\n".join(sections), names, title

    @component.output_types(documents=list[Document])
    def run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        :param sources: Workbook file paths or ByteStreams.
        :param meta: Metadata for every document, or one dict per source.
        :returns: `documents`, one per readable file, with `sheets` (the names of the sheets written, in workbook
            order) and `sheet_count` metadata, and as `title` the text lines above the first sheet's table (« DQE —
            Affaire X — Réservoir de Y — Lot 1 »), when there are some: every chunk of the table is then found and
            shown with what the workbook is about, not only the sheet's name.
        """
        documents = []
        for source, metadata in zip(sources, normalize_metadata(meta, sources_count=len(sources)), strict=True):
            try:
                stream = get_bytestream_from_source(source)
                content, names, title = self._convert(stream.data, source)
            except Exception as e:
                logger.warning("Could not read {source}. Skipping it. Error: {error}", source=source, error=e)
                continue
            merged = {**stream.meta, "sheets": names, "sheet_count": len(names), **metadata}
            if title and "title" not in merged:
                merged["title"] = title
            if not self.store_full_path and "file_path" in merged:
                merged["file_path"] = Path(str(merged["file_path"])).name
            documents.append(Document(content=content, meta=merged))
        return {"documents": documents}
