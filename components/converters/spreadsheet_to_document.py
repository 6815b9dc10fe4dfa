"""Spreadsheets (.xlsx, .xlsm, .ods, .xls) as Markdown: one heading per sheet, its text lines, then its table."""

from __future__ import annotations

import io
import math
import warnings
import zipfile
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from statistics import median
from typing import Any

import openpyxl
from haystack import Document, component, logging
from haystack.components.converters.utils import get_bytestream_from_source, normalize_metadata
from haystack.dataclasses import ByteStream
from odf.namespaces import OFFICENS, STYLENS, TABLENS, TEXTNS
from odf.opendocument import load as load_odf
from openpyxl.utils import column_index_from_string
from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

logger = logging.getLogger(__name__)

# What a French reader of the workbook sees.
TRUE_TEXT = "VRAI"
FALSE_TEXT = "FAUX"
DECIMAL_SEPARATOR = ","
THOUSANDS_SEPARATOR = " "
PERCENT_TEXT = " %"
DATE_FORMAT = "%d/%m/%Y"
TIME_FORMAT = "%H:%M"
TIME_WITH_SECONDS_FORMAT = "%H:%M:%S"
TRUNCATED_NOTE = "Feuille tronquée : {kept} lignes sur {total} lues."
HEADER_PART_SEPARATOR = " / "

# openpyxl loads a workbook up to this size (zipped) whole, with its merged cells and hidden rows and columns; a
# larger one is streamed in read-only mode, which knows neither (only hidden sheets are still left out).
READ_ONLY_ABOVE_BYTES = 5 * 1024 * 1024
MAX_COLUMNS = 16_384  # Excel's and LibreOffice's widest sheet
MAX_REPEAT = 1_000  # an .ods cell or row with content repeated more often than this is expanded this often only
HEADER_LOOKAHEAD = 5  # rows below a candidate header row that tell the table's width
HEADER_MIN_WIDTH_RATIO = 0.75  # a header row holds at least this share of the median width of the rows below it
EXCEL_EPOCH = datetime(1899, 12, 30)

_NUMBER_CODES = "0#?,."
_DIGIT_CODES = "0#?"
_DATE_CODES = set("ymdhs")
_ODS_NUMERIC_TYPES = {"float", "percentage", "currency", "date", "time"}
_ODS_GROUPS = {
    "table-column-group",
    "table-columns",
    "table-header-columns",
    "table-row-group",
    "table-rows",
    "table-header-rows",
}
_ODS_MIME_TYPE = b"application/vnd.oasis.opendocument.spreadsheet"


# ---------------------------------------------------------------------------------------------------------------------
# Cell display


def format_cell(value: Any, number_format: str | None = "General") -> str:
    """
    The text a French reader sees in a cell holding `value` displayed with the Excel `number_format`.

    Covers General, `0`, `0.00`, `#,##0`, `#,##0.00`, percentages, dates and times (always `dd/mm/yyyy`, with the
    time when the format shows one), currency and accounting formats (symbols and quoted literals kept, e.g.
    `#,##0.00 "€ HT"`), negative and zero sections; other formats (scientific, fractions) fall back to General.

    :param value: The cell's value (as openpyxl or python-calamine give it).
    :param number_format: The cell's Excel number format code.
    :returns: The displayed text, "" for an empty cell.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return TRUE_TEXT if value else FALSE_TEXT
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date | time | timedelta):
        return _format_temporal(value, _parse_format(number_format or "General")[0].codes)
    if isinstance(value, int | float):
        return _format_number(value, number_format or "General")
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | datetime | date | time | timedelta) and not isinstance(value, bool)


def _split_sections(number_format: str) -> list[str]:
    sections, current, quoted, escaped = [], [], False, False
    for char in number_format:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            sections.append("".join(current))
            current = []
            continue
        current.append(char)
    sections.append("".join(current))
    return sections


def _tokenize(section: str) -> list[tuple[str, str]]:
    """A format section as ("lit", text), ("code", char) and ("general", "") tokens, padding and colors dropped."""
    tokens, i = [], 0
    while i < len(section):
        char = section[i]
        if char == '"':
            end = section.find('"', i + 1)
            end = len(section) if end < 0 else end
            tokens.append(("lit", section[i + 1 : end]))
            i = end + 1
        elif char == "\\":
            tokens.append(("lit", section[i + 1 : i + 2]))
            i += 2
        elif char in "_*":  # `_x` pads with the width of x, `*x` fills the cell with x
            i += 2
        elif char == "[":
            end = section.find("]", i)
            end = len(section) if end < 0 else end
            inner = section[i + 1 : end]
            if inner.startswith("$"):  # [$€-40C]: a currency symbol and a locale
                tokens.append(("lit", inner[1:].split("-")[0]))
            elif inner and set(inner.lower()) <= _DATE_CODES:  # [h]:mm elapsed time
                tokens.append(("code", inner[0]))
            i = end + 1  # colors [Red] and conditions [>=100] are dropped
        elif section[i : i + 7].lower() == "general":
            tokens.append(("general", ""))
            i += 7
        else:
            tokens.append(("code", char))
            i += 1
    return tokens


def _format_temporal(value: datetime | date | time | timedelta, codes: str) -> str:
    has_time = "h" in codes or "s" in codes
    has_date = any(c in codes for c in "dy") or ("m" in codes and not has_time)
    general = not has_time and not has_date
    if isinstance(value, timedelta):
        seconds = round(value.total_seconds())
        sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
        text = f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}"
        return f"{text}:{seconds % 60:02d}" if "s" in codes or (general and seconds % 60) else text
    clock = value.time() if isinstance(value, datetime) else value if isinstance(value, time) else None
    time_format = TIME_WITH_SECONDS_FORMAT if "s" in codes or (general and clock and clock.second) else TIME_FORMAT
    if isinstance(value, time):
        return value.strftime(time_format)
    day = value.strftime(DATE_FORMAT)
    show_time = has_time or (general and clock is not None and clock != time(0))
    if not show_time:
        return day
    if not has_date and not general:
        return value.strftime(time_format)
    return f"{day} {value.strftime(time_format)}"


def _general_number(value: float) -> str:
    """Excel's General display: integers without decimals, other numbers with up to 10 significant digits."""
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if value == int(value) and magnitude < 1e15:
        return str(int(value))
    if magnitude >= 1e15 or magnitude < 1e-9:
        mantissa, _, exponent = format(value, ".6E").partition("E")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}E{exponent}".replace(".", DECIMAL_SEPARATOR)
    if magnitude >= 1:
        places = max(10 - len(str(int(magnitude))), 0)
        rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    else:
        rounded = Decimal(format(value, ".10g"))
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", DECIMAL_SEPARATOR)


def _group_thousands(digits: str) -> str:
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return THOUSANDS_SEPARATOR.join(groups)


def _render_literals(tokens: list[tuple[str, str]]) -> str:
    return "".join(PERCENT_TEXT if (kind, text) == ("code", "%") else text for kind, text in tokens)


@dataclass(frozen=True)
class _Section:
    """One section of a number format, parsed: how it writes a number."""

    kind: str  # "general", "date" (a date format), "digits" (0, #,##0.00...), "fallback" (not covered: General)
    codes: str  # its format codes without literals, lower case
    blank: bool = False  # an empty section ("0;;"): the section for positive numbers writes the number
    prefix: str = ""
    suffix: str = ""
    min_integer_digits: int = 0
    grouping: bool = False
    multiplier: Decimal = Decimal(1)  # 100 per %, 1/1000 per trailing comma
    min_decimals: int = 0
    quantum: Decimal = Decimal(1)  # 10 ** -max decimals
    digits: bool = True  # the section writes the number (a section of literals only, like "-", does not)


@lru_cache(maxsize=1024)
def _parse_format(number_format: str) -> tuple[_Section, ...]:
    return tuple(_parse_section(section) for section in _split_sections(number_format))


def _parse_section(section: str) -> _Section:
    tokens = _tokenize(section)
    codes = "".join(text for kind, text in tokens if kind == "code").lower()
    blank = not section.strip()
    general = next((i for i, (kind, _) in enumerate(tokens) if kind == "general"), None)
    if general is not None:
        prefix, suffix = _render_literals(tokens[:general]), _render_literals(tokens[general + 1 :])
        return _Section("general", codes, blank, prefix, suffix)
    if _DATE_CODES & set(codes) and not set(codes) & set(_DIGIT_CODES):
        return _Section("date", codes, blank)
    if blank or any(c.isalpha() or c in "/@" for c in codes):  # scientific, fractions, text: not covered
        return _Section("fallback", codes, blank)
    start = next((i for i, (kind, text) in enumerate(tokens) if kind == "code" and text in "0#?."), len(tokens))
    end = start
    while end < len(tokens) and tokens[end][0] == "code" and tokens[end][1] in _NUMBER_CODES:
        end += 1
    int_part, _, frac_part = "".join(text for _, text in tokens[start:end]).partition(".")
    scale = 0
    while int_part.endswith(","):  # each trailing comma divides by a thousand
        int_part, scale = int_part[:-1], scale + 1
    return _Section(
        "digits",
        codes,
        blank,
        prefix=_render_literals(tokens[:start]),
        suffix=_render_literals(tokens[end:]),
        min_integer_digits=int_part.count("0"),
        grouping="," in int_part,
        multiplier=Decimal(100) ** codes.count("%") / Decimal(1000) ** scale,
        min_decimals=frac_part.count("0"),
        quantum=Decimal(1).scaleb(-sum(frac_part.count(c) for c in _DIGIT_CODES)),
        digits=start < end,
    )


def _format_number(value: float, number_format: str) -> str:
    if number_format == "General" and (isinstance(value, int) or value.is_integer()) and abs(value) < 1e15:
        return str(int(value))
    sections = _parse_format(number_format)
    section, signed = sections[0], True
    if value < 0 and len(sections) > 1 and not sections[1].blank:
        section, value, signed = sections[1], -value, False
    elif value == 0 and len(sections) > 2 and not sections[2].blank:
        section = sections[2]
    if section.kind == "general":
        number = section.prefix + _general_number(value) + section.suffix
    elif section.kind == "date" and value >= 0:  # a date format on a number openpyxl did not take for a date
        return _format_temporal(EXCEL_EPOCH + timedelta(days=value), section.codes)
    elif section.kind == "digits":
        number = section.prefix + (_format_digits(value, section, signed) if section.digits else "") + section.suffix
    else:
        return _general_number(value)
    return " ".join(number.split())


def _format_digits(value: float, section: _Section, signed: bool) -> str:
    """`value` written with the digits of a number format section (`#,##0.00`), French separators."""
    magnitude = Decimal(format(abs(value), ".15g")) * section.multiplier
    rounded = magnitude.quantize(section.quantum, rounding=ROUND_HALF_UP)
    int_text, _, frac_text = format(rounded, "f").partition(".")
    while len(frac_text) > section.min_decimals and frac_text.endswith("0"):
        frac_text = frac_text[:-1]
    int_text = int_text.lstrip("0").rjust(section.min_integer_digits, "0")
    if section.grouping and int_text:
        int_text = _group_thousands(int_text)
    number = int_text + (DECIMAL_SEPARATOR + frac_text if frac_text else "")
    if signed and value < 0 and rounded:
        number = "-" + number
    return number


# ---------------------------------------------------------------------------------------------------------------------
# Sheets as read


@dataclass
class _Sheet:
    """The non-empty cells of one sheet as displayed, by row and column, and its merged ranges."""

    name: str
    max_cells: int
    hidden_columns: set[int] = field(default_factory=set)
    rows: dict[int, dict[int, tuple[str, bool]]] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # first row, first col, last row, last col
    total_rows: int = 0
    stored_cells: int = 0

    def add_row(self, row: int, cells: Iterable[tuple[int, str, bool]]) -> None:
        """
        Keeps a row's non-empty cells (column, displayed text, is a number), whitespace collapsed; once `max_cells`
        cells are kept, rows are only counted (`cells` is then read up to its first non-empty cell).
        """
        if self.stored_cells >= self.max_cells:
            if any(text.strip() and column not in self.hidden_columns for column, text, _ in cells):
                self.total_rows += 1
            return
        kept = {}
        for column, text, numeric in cells:
            clean = " ".join(text.split())
            if clean and column not in self.hidden_columns:
                kept[column] = (clean, numeric)
        if kept:
            self.total_rows += 1
            self.rows[row] = kept
            self.stored_cells += len(kept)


def _read_workbook(data: bytes, include_hidden: bool, max_cells: int) -> list[_Sheet]:
    """The sheets of an .xlsx/.xlsm (openpyxl), .ods (odfpy) or other (python-calamine: .xls, .xlsb) workbook."""
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.read("mimetype").startswith(_ODS_MIME_TYPE):
                return _read_ods(data, include_hidden, max_cells)
        try:
            return _read_openpyxl(data, include_hidden, max_cells)
        except Exception as openpyxl_error:
            logger.debug("openpyxl could not read a workbook, trying python-calamine: {error}", error=openpyxl_error)
            try:
                return _read_calamine(data, include_hidden, max_cells)
            except Exception:
                raise openpyxl_error from None
    return _read_calamine(data, include_hidden, max_cells)


def _read_openpyxl(data: bytes, include_hidden: bool, max_cells: int) -> list[_Sheet]:
    read_only = len(data) > READ_ONLY_ABOVE_BYTES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unsupported extensions (data validation, slicers) are irrelevant here
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=read_only, data_only=True, keep_links=False)
    sheets = []
    try:
        for worksheet in workbook.worksheets:
            if worksheet.sheet_state != "visible" and not include_hidden:
                continue
            sheet = _Sheet(worksheet.title, max_cells)
            if read_only:
                _stream_openpyxl_sheet(worksheet, sheet)
            else:
                _read_openpyxl_sheet(worksheet, sheet, include_hidden)
            sheets.append(sheet)
    finally:
        if read_only:
            workbook.close()
    return sheets


def _openpyxl_cells(cells: Iterable[Any]) -> Iterable[tuple[int, str, bool]]:
    return ((c.column, format_cell(c.value, c.number_format), _is_number(c.value)) for c in cells)


def _read_openpyxl_sheet(worksheet: Any, sheet: _Sheet, include_hidden: bool) -> None:
    hidden_rows = set()
    if not include_hidden:
        hidden_rows = {index for index, dimension in worksheet.row_dimensions.items() if dimension.hidden}
        for dimension in worksheet.column_dimensions.values():
            if dimension.hidden:
                first = dimension.min or column_index_from_string(dimension.index)
                sheet.hidden_columns.update(range(first, min(dimension.max or first, MAX_COLUMNS) + 1))
    # The cells the file holds: iter_rows() would create every cell of the used range.
    by_row = defaultdict(list)
    for (row_index, _), cell in worksheet._cells.items():
        by_row[row_index].append(cell)
    for row_index in sorted(set(by_row) - hidden_rows):
        sheet.add_row(row_index, _openpyxl_cells(sorted(by_row[row_index], key=lambda c: c.column)))
    sheet.merges = [(r.min_row, r.min_col, r.max_row, r.max_col) for r in worksheet.merged_cells.ranges]


def _stream_openpyxl_sheet(worksheet: Any, sheet: _Sheet) -> None:
    worksheet.reset_dimensions()  # stored dimensions can be wrong, and rows missing below them would be padded
    for row in worksheet.iter_rows():
        cells = [cell for cell in row if cell.value is not None]
        if cells:
            sheet.add_row(cells[0].row, _openpyxl_cells(cells))


def _read_calamine(data: bytes, include_hidden: bool, max_cells: int) -> list[_Sheet]:
    """Values only (no number formats, no hidden rows or columns): numbers as General, dates as dd/mm/yyyy."""
    sheets = []
    with CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
        for metadata in workbook.sheets_metadata:
            if metadata.typ != SheetTypeEnum.WorkSheet:
                continue
            if metadata.visible != SheetVisibleEnum.Visible and not include_hidden:
                continue
            worksheet = workbook.get_sheet_by_name(metadata.name)
            sheet = _Sheet(metadata.name, max_cells)
            for row_index, values in enumerate(worksheet.to_python(skip_empty_area=False)):
                sheet.add_row(
                    row_index, ((c, format_cell(v), _is_number(v)) for c, v in enumerate(values) if v not in ("", None))
                )
            sheet.merges = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in worksheet.merged_cell_ranges or []]
            sheets.append(sheet)
    return sheets


def _read_ods(data: bytes, include_hidden: bool, max_cells: int) -> list[_Sheet]:
    """Each cell's `text:p` content: the text the saving application displayed."""
    document = load_odf(io.BytesIO(data))
    hidden_styles = {
        style.getAttrNS(STYLENS, "name")
        for style in _ods_children(document.automaticstyles, STYLENS, {"style"})
        for properties in _ods_children(style, STYLENS, {"table-properties"})
        if properties.getAttrNS(TABLENS, "display") == "false"
    }
    sheets = []
    for table in _ods_children(document.spreadsheet, TABLENS, {"table"}):
        if table.getAttrNS(TABLENS, "style-name") in hidden_styles and not include_hidden:
            continue
        sheet = _Sheet(table.getAttrNS(TABLENS, "name") or "", max_cells)
        column = 0
        for element in _ods_children(table, TABLENS, {"table-column"}, descend=_ODS_GROUPS):
            repeat = int(element.getAttrNS(TABLENS, "number-columns-repeated") or 1)
            if element.getAttrNS(TABLENS, "visibility") not in (None, "visible") and not include_hidden:
                sheet.hidden_columns.update(range(column, min(column + repeat, MAX_COLUMNS)))
            column += repeat
            if column >= MAX_COLUMNS:
                break
        row_index = 0
        for row in _ods_children(table, TABLENS, {"table-row"}, descend=_ODS_GROUPS):
            repeat = int(row.getAttrNS(TABLENS, "number-rows-repeated") or 1)
            hidden = row.getAttrNS(TABLENS, "visibility") not in (None, "visible") and not include_hidden
            if not hidden:
                cells, merges = _ods_row(row, row_index)
                for copy in range(min(repeat, MAX_REPEAT) if cells else 0):
                    sheet.add_row(row_index + copy, cells)
                sheet.merges.extend(merges)
            row_index += repeat
        sheets.append(sheet)
    return sheets


def _ods_children(element: Any, namespace: str, names: set[str], descend: Iterable[str] = ()) -> Iterable[Any]:
    """The child elements of `element` named `names`, looking into the children named `descend` (groups)."""
    for child in element.childNodes:
        qname = getattr(child, "qname", None)
        if qname is None or qname[0] != namespace:
            continue
        if qname[1] in names:
            yield child
        elif qname[1] in descend:
            yield from _ods_children(child, namespace, names, descend)


def _ods_row(row: Any, row_index: int) -> tuple[list[tuple[int, str, bool]], list[tuple[int, int, int, int]]]:
    cells, merges, column = [], [], 0
    for cell in _ods_children(row, TABLENS, {"table-cell", "covered-table-cell"}):
        repeat = int(cell.getAttrNS(TABLENS, "number-columns-repeated") or 1)
        text = _ods_cell_text(cell) if cell.qname[1] == "table-cell" else ""
        if text:
            numeric = cell.getAttrNS(OFFICENS, "value-type") in _ODS_NUMERIC_TYPES
            cells.extend((column + copy, text, numeric) for copy in range(min(repeat, MAX_REPEAT)))
            rows_spanned = int(cell.getAttrNS(TABLENS, "number-rows-spanned") or 1)
            columns_spanned = int(cell.getAttrNS(TABLENS, "number-columns-spanned") or 1)
            if rows_spanned > 1 or columns_spanned > 1:
                merges.append((row_index, column, row_index + rows_spanned - 1, column + columns_spanned - 1))
        column += repeat
        if column >= MAX_COLUMNS:
            break
    return cells, merges


def _ods_cell_text(cell: Any) -> str:
    text = " ".join(_ods_text(p) for p in _ods_children(cell, TEXTNS, {"p"}))
    if text.strip():
        return text
    # No displayed text (some generators write only the value): the value, as General.
    value_type = cell.getAttrNS(OFFICENS, "value-type")
    if value_type in ("float", "percentage", "currency"):
        value = float(cell.getAttrNS(OFFICENS, "value") or 0)
        return _general_number(value * 100) + PERCENT_TEXT if value_type == "percentage" else _general_number(value)
    if value_type == "date" and cell.getAttrNS(OFFICENS, "date-value"):
        return format_cell(datetime.fromisoformat(cell.getAttrNS(OFFICENS, "date-value")))
    if value_type == "boolean":
        return format_cell(cell.getAttrNS(OFFICENS, "boolean-value") == "true")
    return cell.getAttrNS(OFFICENS, "string-value") or ""


def _ods_text(element: Any) -> str:
    parts = []
    for node in element.childNodes:
        if node.nodeType == node.TEXT_NODE:
            parts.append(node.data)
        elif node.qname == (TEXTNS, "s"):
            parts.append(" " * int(node.getAttrNS(TEXTNS, "c") or 1))
        elif node.qname in ((TEXTNS, "tab"), (TEXTNS, "line-break")):
            parts.append(" ")
        elif node.qname[0] == TEXTNS:
            parts.append(_ods_text(node))
    return "".join(parts)


# ---------------------------------------------------------------------------------------------------------------------
# Sheets as Markdown


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _find_header(cells: list[int], widths: list[int]) -> int | None:
    """
    The first row of 2 or more cells (merged ones counting once) about as wide as the rows below it (merged ones
    counting for every column they span), None when there is none.
    """
    for index, width in enumerate(widths):
        below = widths[index + 1 : index + 1 + HEADER_LOOKAHEAD]
        if cells[index] >= 2 and below and width >= HEADER_MIN_WIDTH_RATIO * median(below):
            return index
    return None


def _header_depth(numeric: list[bool], header: int) -> int:
    """2 or 3 when the rows from `header` are all text and the row below them holds numbers, else 1."""
    for depth in (2, 3):
        below = header + depth
        if below < len(numeric) and not any(numeric[header:below]) and numeric[below]:
            return depth
    return 1


def _fill_merges(sheet: _Sheet, row_ids: list[int], columns: list[int], own: list[list[str]]) -> tuple[list, list]:
    """
    The grid with each merged range's value in every cell of the range (`wide`, for headers), and with it in the
    cells below its first cell only (`labels`, for row labels; a merge across a body row stays in its first cell).
    """
    wide = [list(cells) for cells in own]
    labels = [list(cells) for cells in own]
    for first_row, first_col, last_row, last_col in sheet.merges:
        origin = sheet.rows.get(first_row, {}).get(first_col)
        if origin is None:
            continue
        for i in range(bisect_left(row_ids, first_row), bisect_right(row_ids, last_row)):
            for j in range(bisect_left(columns, first_col), bisect_right(columns, last_col)):
                if not own[i][j]:
                    wide[i][j] = origin[0]
                    if columns[j] == first_col:
                        labels[i][j] = origin[0]
    return wide, labels


def _markdown_table(header_rows: list[list[str]], body: list[list[str]]) -> str:
    """One header row from the header rows ("Haut / Bas" per column), then the body; empty columns left out."""
    header = []
    for j in range(len(header_rows[0])):
        parts = []
        for cells in header_rows:
            if cells[j] and cells[j] not in parts:
                parts.append(cells[j])
        header.append(HEADER_PART_SEPARATOR.join(parts))
    used = [j for j in range(len(header)) if header[j] or any(cells[j] for cells in body)]
    lines = ["| " + " | ".join(_escape(header[j]) for j in used) + " |", "|" + "---|" * len(used)]
    lines += ["| " + " | ".join(_escape(cells[j]) for j in used) + " |" for cells in body if any(cells)]
    return "\n".join(lines)


def _render_sheet(sheet: _Sheet) -> tuple[str, int]:
    """
    A sheet's rows as Markdown: the rows above its table as paragraphs, then the table with its header.

    :param sheet: The sheet as read.
    :returns: The Markdown ("" for an empty sheet), and how many of its non-empty rows it holds.
    """
    row_ids = sorted(sheet.rows)
    if not row_ids:
        return "", 0
    columns = sorted({column for cells in sheet.rows.values() for column in cells})
    row_ids = row_ids[: max(1, sheet.max_cells // len(columns))]
    position = {column: j for j, column in enumerate(columns)}
    own = [[""] * len(columns) for _ in row_ids]
    numeric = [False] * len(row_ids)
    for i, row in enumerate(row_ids):
        for column, (text, is_number) in sheet.rows[row].items():
            own[i][position[column]] = text
            numeric[i] = numeric[i] or is_number
    wide, labels = _fill_merges(sheet, row_ids, columns, own)
    header = _find_header([sum(map(bool, cells)) for cells in own], [sum(map(bool, cells)) for cells in wide])
    if header is None:
        header = len(row_ids)
    blocks = [" ".join(text for text in cells if text) for cells in own[:header]]
    if header < len(row_ids):
        depth = _header_depth(numeric, header)
        blocks.append(_markdown_table(wide[header : header + depth], labels[header + depth :]))
    return "\n\n".join(blocks), len(row_ids)


# ---------------------------------------------------------------------------------------------------------------------
# Component


@component
class SpreadsheetToDocument:
    """
    Converts workbooks (.xlsx, .xlsm, .ods, .xls) to one Document each, holding every sheet in workbook order as a
    Markdown heading (`## <sheet name>`), the lines above its table (title, "Chantier : X") as paragraphs, then the
    table as a Markdown table with its header.

    ### Usage example
    ```python
    converter = SpreadsheetToDocument()
    documents = converter.run(sources=["DQE_lot_2.xlsx"])["documents"]
    print(documents[0].content)  # "## DQE\\n\\n| N° | Désignation | Montant HT |\\n|---|---|---|\\n..."
    ```

    Cells read as a person sees them: cached formula results (never formulas), numbers, dates, percentages and
    currencies displayed in French (`1 268 430,00 €`, `69,5 %`, `30/09/2025`, VRAI/FAUX); .ods cells as their
    saved text; .xls values (python-calamine) as General numbers. A merged cell's value is repeated across the
    header and down the row labels. Two or three text header rows above rows with numbers make one header
    (`Quantités / Cumul`).

    Hidden sheets, hidden rows and hidden columns are left out, as a person reading the workbook does not see them;
    `include_hidden=True` keeps them. An .xlsx larger than 5 MB is streamed (openpyxl read-only mode), which knows
    neither merged cells nor hidden rows and columns, and .xls files (python-calamine) tell hidden sheets only: only
    hidden sheets are then left out.
    """

    def __init__(self, include_hidden: bool = False, max_cells: int = 200_000, store_full_path: bool = False) -> None:
        """
        :param include_hidden: Keep hidden sheets, rows and columns.
        :param max_cells: The most cells (rows x used columns) read from one sheet: a larger sheet keeps its first
            rows only, says so in a paragraph ("Feuille tronquée : N lignes sur M lues.") and logs a warning.
        :param store_full_path: Keep the full path in `file_path` metadata, else only the file name.
        """
        if max_cells < 1:
            raise ValueError(f"max_cells must be at least 1, got {max_cells}")
        self.include_hidden = include_hidden
        self.max_cells = max_cells
        self.store_full_path = store_full_path

    @component.output_types(documents=list[Document])
    def run(
        self, sources: list[str | Path | ByteStream], meta: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """
        :param sources: Workbook file paths or ByteStreams.
        :param meta: Metadata for every document, or one dict per source.
        :returns: `documents`, one per readable file, with `sheets` (the names of the sheets read) and `sheet_count`
            in their metadata.
        """
        documents = []
        for source, metadata in zip(sources, normalize_metadata(meta, sources_count=len(sources)), strict=True):
            try:
                stream = get_bytestream_from_source(source)
                sheets = _read_workbook(stream.data, self.include_hidden, self.max_cells)
                sections = [self._section(sheet, source) for sheet in sheets]
            except Exception as e:
                logger.warning("Could not read {source}. Skipping it. Error: {error}", source=source, error=e)
                continue
            merged = {**stream.meta, **metadata, "sheets": [s.name for s in sheets], "sheet_count": len(sheets)}
            if not self.store_full_path and "file_path" in merged:
                merged["file_path"] = Path(str(merged["file_path"])).name
            documents.append(Document(content="\n\n".join(s for s in sections if s), meta=merged))
        return {"documents": documents}

    def _section(self, sheet: _Sheet, source: Any) -> str:
        body, kept = _render_sheet(sheet)
        if not body:
            return ""
        if kept < sheet.total_rows:
            logger.warning(
                "Sheet {sheet} of {source} holds more than {max_cells} cells: only its first {kept} of "
                "{total} rows are read.",
                sheet=sheet.name,
                source=source,
                max_cells=self.max_cells,
                kept=kept,
                total=sheet.total_rows,
            )
            body += "\n\n" + TRUNCATED_NOTE.format(kept=kept, total=sheet.total_rows)
        return f"## {' '.join(sheet.name.split())}\n\n{body}"
