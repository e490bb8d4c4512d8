"""Writing .xlsx files that are safe to open: the ministry report workbook and raw exports.

Plain data in, a file out; no database, no Flask. Two writers share one set of cell rules:

- :func:`write_report` builds the official report workbook (说明, 统计, 政策建议, 发现问题,
  典型经验, 来源清单) from a :class:`ReportData` in openpyxl's normal mode — it has hundreds of
  rows — formatted as an official document, and byte-identical for the same data, because a
  frozen report is stored with its SHA-256.
- :func:`write_export` streams any number of rows in write-only mode with flat memory and
  reports progress, for 10k–100k-row exports run by a CLI command or a background job.

Cell rules (SECURITY.md finding 1, requirements 20–21):

- Every user-derived string goes through :func:`set_text` (or, in write-only mode, the same
  :func:`excel_text` and :func:`needs_quote_prefix`): XML-illegal characters and lone surrogates
  are removed, line ends become ``\\n``, and text whose first non-blank character is a formula
  trigger (``= + - @``, tab, CR, LF or full-width ``＝ ＋ － ＠``) is stored as a text cell
  (``t="inlineStr"``) with ``quotePrefix`` on its style. The value itself is never changed
  (no apostrophe is prepended), so the file reads back exactly and Excel shows ``'=…`` only in
  the formula bar. No cell is ever a formula; the statistics totals are plain numbers.
- Excel holds at most 32,767 UTF-16 code units in a cell (openpyxl truncates silently). Longer
  text is *continued*: :func:`split_cell_text` keeps the first 32,767 units in the record's row
  and puts the rest, in pieces, into the same column of the rows directly below, each piece
  starting with the mark ``（续）`` and the other cells of those rows left empty.
  :func:`join_cell_text` reverses it; nothing is ever cut off.
- Numbers, dates and datetimes are typed cells with a date format; timezone-aware datetimes are
  shown in Beijing time (UTC+8, no daylight saving), as Excel has no timezones.

openpyxl picks its XML serialiser when first imported: lxml when installed and
``OPENPYXL_LXML`` is not ``False``. lxml's incremental writer, given no encoding, writes every
Chinese character as ``&#23433;`` (PERFORMANCE.md §1). This module writes every worksheet with
an explicit UTF-8 encoding, so Chinese is UTF-8 with either serialiser. The two serialisers still
differ in small ways (``<a/>`` or ``<a />``), so "the same data gives the same bytes" holds for
one environment: a frozen report is kept as the stored file, never rebuilt to be compared.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import shutil
import unicodedata
import zipfile
from collections.abc import Callable, Collection, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from itertools import chain, islice
from typing import IO, Any, Final, TypeAlias

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import xmlfile

__all__ = [
    "CELL_MAX",
    "CONTINUATION_MARK",
    "DATETIME_FORMAT",
    "DATE_FORMAT",
    "FORMULA_TRIGGERS",
    "OFFICIAL_DATE_FORMAT",
    "REPORT_SHEETS",
    "SHEET_TITLE_MAX",
    "CellValue",
    "CountTable",
    "Experience",
    "ExportColumn",
    "ExportSummary",
    "Problem",
    "ReportData",
    "Source",
    "Suggestion",
    "Target",
    "display_width",
    "excel_text",
    "join_cell_text",
    "needs_quote_prefix",
    "official_date",
    "report_bytes",
    "set_text",
    "set_value",
    "sheet_title",
    "split_cell_text",
    "write_export",
    "write_report",
]

CellValue: TypeAlias = str | int | float | Decimal | bool | date | datetime | time | None
"""What a cell may be given. ``bool`` is written as the text 是/否."""

Target: TypeAlias = str | os.PathLike[str] | IO[bytes]
"""Where a workbook goes: a path or a binary file object opened for writing."""

CELL_MAX: Final = 32_767
"""Excel's limit on the text of one cell, in UTF-16 code units."""
CONTINUATION_MARK: Final = "（续）"
"""Starts every continuation piece of a text longer than :data:`CELL_MAX`."""
FORMULA_TRIGGERS: Final = frozenset("=+-@\t\r\n＝＋－＠")
"""First characters that make a spreadsheet (or a CSV import) read text as a formula."""
SHEET_TITLE_MAX: Final = 31

# Blanks skipped before looking for a trigger: "  =1+2" and "\u3000＝1" are formulas to a
# spreadsheet that trims on CSV import or on editing the cell.
_LEADING_BLANKS: Final = " \t\r\n\u00a0\u3000"
# openpyxl's own list (C0 controls but tab, LF, CR), plus what XML 1.0 forbids beyond it: lone
# surrogates (from bad decoding with errors="surrogateescape") and the non-characters U+FFFE/F.
_ILLEGAL: Final = re.compile(ILLEGAL_CHARACTERS_RE.pattern + r"|[\ud800-\udfff\ufffe\uffff]")
_LINE_ENDS: Final = re.compile(r"\r\n?")
_SHEET_FORBIDDEN: Final = re.compile(r"[\[\]:*?/\\]")
# Excel reserves this name for its change-tracking sheet.
_SHEET_RESERVED: Final = "history"
_BEIJING: Final = timezone(timedelta(hours=8))
# ZIP cannot store earlier times.
_ZIP_EPOCH: Final = datetime(1980, 1, 1)

DATE_FORMAT: Final = "yyyy-mm-dd"
DATETIME_FORMAT: Final = "yyyy-mm-dd hh:mm"
TIME_FORMAT: Final = "hh:mm"
OFFICIAL_DATE_FORMAT: Final = 'yyyy"年"m"月"d"日"'


# -- text -------------------------------------------------------------------------------------


def excel_text(value: str) -> str:
    """``value`` as a cell can hold it: illegal characters removed, line ends made ``\\n``."""
    return _ILLEGAL.sub("", _LINE_ENDS.sub("\n", value))


def needs_quote_prefix(text: str) -> bool:
    """Whether ``text`` starts, after blanks, with a formula trigger (or is led by tab/CR/LF)."""
    if not text:
        return False
    if text[0] in FORMULA_TRIGGERS:
        return True
    rest = text.lstrip(_LEADING_BLANKS)
    return bool(rest) and rest[0] in FORMULA_TRIGGERS


def _utf16_units(text: str) -> int:
    """Length as Excel counts it: characters beyond the BMP take two units."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _take_units(text: str, start: int, units: int) -> int:
    """The end index of the longest slice from ``start`` that fits in ``units`` UTF-16 units."""
    end = min(len(text), start + units)
    while _utf16_units(text[start:end]) > units:
        # Only text beyond the BMP gets here; step back by the excess, at least one character.
        end -= max(1, (_utf16_units(text[start:end]) - units) // 2)
    return end


def split_cell_text(text: str) -> list[str]:
    """Cell texts for ``text``: itself if it fits, else the first piece and marked continuations.

    The first piece holds :data:`CELL_MAX` UTF-16 units; each later piece is
    :data:`CONTINUATION_MARK` followed by up to ``CELL_MAX - len(mark)`` units, so every piece
    fits a cell. ``join_cell_text(split_cell_text(t)) == t``.
    """
    if len(text) <= CELL_MAX // 2 or _utf16_units(text) <= CELL_MAX:
        return [text]
    end = _take_units(text, 0, CELL_MAX)
    pieces = [text[:end]]
    room = CELL_MAX - _utf16_units(CONTINUATION_MARK)
    while end < len(text):
        start, end = end, _take_units(text, end, room)
        pieces.append(CONTINUATION_MARK + text[start:end])
    return pieces


def join_cell_text(pieces: Sequence[str]) -> str:
    """The original text of a record's cell and its continuation cells (see above)."""
    if not pieces:
        return ""
    for piece in pieces[1:]:
        if not piece.startswith(CONTINUATION_MARK):
            raise ValueError(f"a continuation cell must start with {CONTINUATION_MARK}")
    return pieces[0] + "".join(piece[len(CONTINUATION_MARK) :] for piece in pieces[1:])


def display_width(text: str) -> int:
    """Width of the widest line of ``text`` in Excel column units: CJK (wide) characters count 2."""
    return max(
        (
            sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)
            for line in text.split("\n")
        ),
        default=0,
    )


def official_date(day: date) -> str:
    """``day`` in the form of official documents (GB/T 9704): 2026年11月28日, no leading zeros."""
    return f"{day.year}年{day.month}月{day.day}日"


# -- cells ------------------------------------------------------------------------------------


def set_text(cell: Any, value: str) -> None:
    """Write user-derived ``value`` into ``cell`` (normal or write-only) as text, never a formula.

    Raises ValueError for text over :data:`CELL_MAX` after cleaning: split it with
    :func:`split_cell_text` first — a cell is never silently truncated.
    """
    text = excel_text(value)
    if _utf16_units(text) > CELL_MAX:
        raise ValueError(f"text of {len(text)} characters needs split_cell_text()")
    # Assigning a value infers the type again (a leading "=" makes a formula), so the type is
    # set afterwards.
    cell.value = text or None
    if text:
        cell.data_type = "s"
    if needs_quote_prefix(text):
        cell.quotePrefix = True


def _naive(value: datetime) -> datetime:
    """``value`` without tzinfo, in Beijing time if it had one (openpyxl refuses tzinfo)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(_BEIJING).replace(tzinfo=None)


def set_value(cell: Any, value: CellValue, *, date_format: str = DATE_FORMAT) -> None:
    """Write ``value`` typed: text through :func:`set_text`, numbers and dates as such.

    ``bool`` becomes 是/否; a float that is not finite (Excel has no NaN) is written as text.
    """
    if value is None:
        cell.value = None
    elif isinstance(value, str):
        set_text(cell, value)
    elif isinstance(value, bool):
        set_text(cell, "是" if value else "否")
    elif isinstance(value, int | Decimal):
        cell.value = value
    elif isinstance(value, float):
        if math.isfinite(value):
            cell.value = value
        else:
            set_text(cell, str(value))
    elif isinstance(value, datetime):
        cell.value = _naive(value)
        cell.number_format = DATETIME_FORMAT if date_format == DATE_FORMAT else date_format
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = date_format
    elif isinstance(value, time):
        cell.value = value.replace(tzinfo=None)
        cell.number_format = TIME_FORMAT
    else:
        raise TypeError(f"cannot write {type(value).__name__} to a cell")


def _clean(value: CellValue) -> CellValue:
    """``value`` with its text cleaned; other values unchanged."""
    return excel_text(value) if isinstance(value, str) else value


def _physical_rows(values: Sequence[CellValue]) -> list[list[CellValue]]:
    """A record's row, plus continuation rows when a text is longer than a cell holds."""
    cleaned = [_clean(value) for value in values]
    pieces = [split_cell_text(value) if isinstance(value, str) else [value] for value in cleaned]
    height = max((len(column) for column in pieces), default=1)
    if height == 1:
        return [cleaned]
    return [
        [column[index] if index < len(column) else None for column in pieces]
        for index in range(height)
    ]


# -- sheet titles -----------------------------------------------------------------------------


def sheet_title(name: str, taken: Collection[str] = ()) -> str:
    """A valid worksheet title for ``name``, unique (ignoring case) among ``taken``.

    Excel's rules: 1–31 characters, none of ``[ ] : * ? / \\``, not starting or ending with an
    apostrophe, not "History". Forbidden characters become "_", the name is shortened, and
    " (2)", " (3)"… is appended when it is already taken.
    """
    text = _SHEET_FORBIDDEN.sub("_", excel_text(name))
    text = " ".join(text.split()) if any(char in text for char in "\t\n") else text
    text = _shorten(text.strip("'"), SHEET_TITLE_MAX)
    if not text.strip():
        text = "Sheet"
    if text.casefold() == _SHEET_RESERVED:
        text += "_"
    used = {title.casefold() for title in taken}
    candidate, number = text, 1
    while candidate.casefold() in used:
        number += 1
        suffix = f" ({number})"
        candidate = _shorten(text, SHEET_TITLE_MAX - len(suffix)) + suffix
    return candidate


def _shorten(text: str, units: int) -> str:
    """``text`` cut to ``units`` UTF-16 units, without a trailing apostrophe."""
    return text[: _take_units(text, 0, units)].rstrip("'")


# -- saving -----------------------------------------------------------------------------------


class _Utf8WorksheetWriter(WorksheetWriter):
    """openpyxl's worksheet writer with the encoding given, so lxml writes UTF-8 too."""

    def get_stream(self) -> Generator[Any, Any, None]:
        # openpyxl 3.1.5's WorksheetWriter.get_stream, plus encoding="utf-8": with lxml the
        # default writes every non-ASCII character as a numeric character reference.
        with (
            xmlfile(self.out, encoding="utf-8") as xf,
            xf.element("worksheet", xmlns=SHEET_MAIN_NS),
        ):
            try:
                while True:
                    element = yield
                    if element is True:
                        yield xf
                    elif element is None:
                        continue
                    else:
                        xf.write(element)
            except GeneratorExit:
                pass


class _ExcelWriter(ExcelWriter):
    """openpyxl's package writer, writing normal-mode sheets with :class:`_Utf8WorksheetWriter`."""

    def write_worksheet(self, ws: Any) -> None:
        # openpyxl 3.1.5's ExcelWriter.write_worksheet with our writer in normal mode; a
        # write-only sheet already has ours (write_export sets it).
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        if self.workbook.write_only:
            if not ws.closed:
                ws.close()
            writer = ws._writer
        else:
            writer = _Utf8WorksheetWriter(ws)
            writer.write()
        ws._rels = writer._rels
        self._archive.write(writer.out, ws.path[1:])
        self.manifest.append(ws)
        writer.cleanup()


class _PackageZip(zipfile.ZipFile):
    """A zip archive whose entries carry one fixed time, so equal content gives equal bytes."""

    def __init__(self, file: Target, *, stamp: datetime, compresslevel: int) -> None:
        super().__init__(
            file if not isinstance(file, os.PathLike) else os.fspath(file),
            "w",
            zipfile.ZIP_DEFLATED,
            allowZip64=True,
            compresslevel=compresslevel,
        )
        stamp = max(stamp, _ZIP_EPOCH)
        self._stamp = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)

    def _entry(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        # ZipFile.open(info, "w") takes the level from the entry, not from the archive.
        info._compresslevel = self.compresslevel  # type: ignore[attr-defined]
        info.external_attr = 0o644 << 16
        return info

    def writestr(
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: Any,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self._entry(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(
        self,
        filename: Any,
        arcname: Any = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        # openpyxl adds each worksheet from a temporary file; streamed, as a 100k-row sheet
        # is hundreds of MB of XML.
        entry = self._entry(str(arcname if arcname is not None else filename))
        with open(filename, "rb") as source, self.open(entry, "w", force_zip64=True) as target:
            shutil.copyfileobj(source, target, 1 << 20)


def _utc(moment: datetime) -> datetime:
    """Naive UTC, as openpyxl writes document times."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _save(wb: Any, target: Target, *, stamp: datetime, compresslevel: int) -> None:
    """Write ``wb`` to ``target`` with every timestamp in the package set to ``stamp``."""
    stamp = _utc(stamp)
    # openpyxl's save_workbook would set "modified" to now.
    wb.properties.created = stamp
    wb.properties.modified = stamp
    with _PackageZip(target, stamp=stamp, compresslevel=compresslevel) as archive:
        _ExcelWriter(wb, archive).write_data()


# -- shared formatting ------------------------------------------------------------------------

# Fonts present on every Chinese Windows since Vista (and in WPS): 仿宋 (FangSong), 黑体 and
# 宋体. 仿宋_GB2312 and 方正小标宋简体 (GB/T 9704's body and title fonts) are often missing, and
# Excel then falls back to a Latin font.
_BODY_FONT: Final = Font(name="仿宋", size=11)
_HEADER_FONT: Final = Font(name="黑体", size=11)
_TITLE_FONT: Final = Font(name="宋体", size=18, bold=True)
_ISSUER_FONT: Final = Font(name="仿宋", size=12)
_CAPTION_FONT: Final = Font(name="黑体", size=12)
# A grey that stays readable on a black-and-white printout.
_HEADER_FILL: Final = PatternFill("solid", fgColor="D9D9D9")
_THIN: Final = Side(style="thin", color="000000")
_BORDER: Final = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP: Final = Alignment(wrap_text=True, vertical="top")
_HEADER_ALIGN: Final = Alignment(horizontal="center", vertical="center", wrap_text=True)
_CENTER: Final = Alignment(horizontal="center", vertical="top", wrap_text=True)
_TITLE_ALIGN: Final = Alignment(horizontal="center", vertical="center", wrap_text=True)
_WIDTH_MIN: Final = 6
_WIDTH_MAX: Final = 50
_FOOTER: Final = "第 &P 页 共 &N 页"


def _column_widths(
    headers: Sequence[str], rows: Iterable[Sequence[CellValue]], count: int
) -> list[float]:
    """Column widths from content: widest line + padding, CJK counted double, capped.

    Headers get two units more, for the auto-filter's drop-down button.
    """
    widths = [display_width(header) + 2 for header in headers[:count]]
    widths += [0] * (count - len(widths))
    for row in rows:
        for index, value in enumerate(row[:count]):
            if value is None:
                continue
            if isinstance(value, datetime):
                width = 16
            elif isinstance(value, date):
                width = 12
            else:
                width = display_width(value if isinstance(value, str) else str(value))
            widths[index] = max(widths[index], width)
    return [float(min(_WIDTH_MAX, max(_WIDTH_MIN, width + 2))) for width in widths]


# Column-width units (one "0" of the default font) across A4 landscape inside the margins below:
# 27.7 cm at about 0.19 cm a unit. Within it, fit-to-width prints at or near 100%.
_PRINT_WIDTH: Final = 140
_WRAPPED_MIN: Final = 12


def _fit_to_page(widths: Sequence[float], budget: float = _PRINT_WIDTH) -> list[float]:
    """``widths`` with the widest columns narrowed to one cap so that they fit ``budget``.

    Narrow columns keep their width; the text of narrowed ones wraps. The cap is never below
    :data:`_WRAPPED_MIN` (fit-to-width then scales the page down instead).
    """
    if sum(widths) <= budget:
        return list(widths)
    low, high = float(_WRAPPED_MIN), max(widths)
    while high - low > 0.5:
        cap = (low + high) / 2
        if sum(min(width, cap) for width in widths) > budget:
            high = cap
        else:
            low = cap
    return [float(min(width, int(low))) for width in widths]


# Points per line of 11-point 仿宋/黑体, and the most Excel allows for a row.
_LINE_POINTS: Final = 14.5
_ROW_POINTS_MAX: Final = 409.0
# A CJK character of those fonts is a little over two width units; Latin a little over one.
_GLYPH_SCALE: Final = 1.05


def _row_height(values: Sequence[CellValue], widths: Sequence[float]) -> float:
    """Points a row needs to show its wrapped text in full.

    LibreOffice (and WPS) keep the default height for rows that state none instead of fitting
    them to wrapped text, which would cut every long cell to its first line; so the report
    states heights, estimated from the text and the column widths.
    """
    lines = 1
    for value, width in zip(values, widths, strict=False):
        if not isinstance(value, str) or not value:
            continue
        usable = max(1.0, width - 1.5)
        cell_lines = sum(
            max(1, math.ceil(display_width(line) * _GLYPH_SCALE / usable))
            for line in value.split("\n")
        )
        lines = max(lines, cell_lines)
    return min(_ROW_POINTS_MAX, lines * _LINE_POINTS + 4)


def _print_setup(ws: Any, *, title_rows: str | None) -> None:
    """A4 landscape, fit to one page wide, header rows repeated, page numbers in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as needed
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(left=0.5, right=0.5, top=0.6, bottom=0.7, footer=0.3)
    if title_rows:
        ws.print_title_rows = title_rows
    ws.oddFooter.center.text = _FOOTER


# -- raw export (write-only, streamed) --------------------------------------------------------


@dataclass(frozen=True)
class ExportColumn:
    """A column of a raw export: header text, and optionally a fixed width and date format."""

    header: str
    width: float | None = None  # None: computed from the header and the first rows
    date_format: str = DATE_FORMAT


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`write_export` wrote."""

    records: int  # rows given
    rows: int  # data rows written, continuation rows included
    continued_cells: int  # cells longer than CELL_MAX, continued below


_SAMPLE_ROWS: Final = 200


def _write_only_value(ws: Any, value: CellValue, date_format: str) -> Any:
    """A cleaned value as ``ws.append`` should get it: a plain value, or a styled cell."""
    if isinstance(value, str):
        if not needs_quote_prefix(value):
            # openpyxl 3.1.5 types every str as text unless it starts with "=", which is a
            # trigger: plain text needs no cell object of its own, and most cells are plain.
            return value or None
        cell = WriteOnlyCell(ws)
        set_text(cell, value)
        return cell
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    cell = WriteOnlyCell(ws)
    set_value(cell, value, date_format=date_format)
    return cell


def write_export(
    target: Target,
    columns: Sequence[str | ExportColumn],
    rows: Iterable[Sequence[CellValue]],
    *,
    sheet: str = "导出数据",
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1000,
    generated_at: datetime | None = None,
    compresslevel: int = 1,
) -> ExportSummary:
    """Stream ``rows`` into a one-sheet .xlsx at ``target``; memory stays flat.

    Row 1 is the styled header (frozen, auto-filter over all rows, repeated on printed pages);
    then one row per record, plus continuation rows for text over :data:`CELL_MAX`. ``rows`` is
    consumed once, lazily; each row has at most one value per column (missing values at the
    end are empty; more values than columns raise ValueError).
    ``progress(records_so_far)`` is called every ``progress_every`` records and at the end.
    ``compresslevel`` 1 (fastest) is the default: raw exports are large and short-lived, and
    at level 6 deflating takes about 2.5× as long for files about 14% smaller (measured on
    Chinese text, bench/RESULTS.md).
    """
    specs = [ExportColumn(column) if isinstance(column, str) else column for column in columns]
    headers = [excel_text(spec.header) for spec in specs]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet_title(sheet))

    iterator = iter(rows)
    sample = [[_clean(value) for value in row] for row in islice(iterator, _SAMPLE_ROWS)]
    computed = _column_widths(headers, sample, len(specs))
    for index, spec in enumerate(specs, start=1):
        width = spec.width if spec.width is not None else computed[index - 1]
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    _print_setup(ws, title_rows="1:1")
    # Ours rather than the one openpyxl makes on the first append: it writes UTF-8 with lxml.
    # The sheet's top (widths, frozen pane) is written now, so it is set up above.
    ws._writer = _Utf8WorksheetWriter(ws)
    ws._writer.write_top()

    try:
        header_cells = []
        for text in headers:
            cell = WriteOnlyCell(ws)
            set_text(cell, text)
            cell.font = _HEADER_FONT
            cell.fill = _HEADER_FILL
            cell.border = _BORDER
            cell.alignment = _HEADER_ALIGN
            header_cells.append(cell)
        ws.append(header_cells)

        formats = [spec.date_format for spec in specs]
        width = len(specs)
        records = written = continued = 0
        for row in chain(sample, iterator):
            if len(row) > width:
                # A value without a column would be lost without anyone noticing.
                raise ValueError(f"row {records + 1} has {len(row)} values for {width} columns")
            values = [*row, *([None] * (width - len(row)))]
            physical = _physical_rows(values)
            if len(physical) > 1:
                continued += sum(1 for value in physical[1] if isinstance(value, str) and value)
            for values_row in physical:
                ws.append(
                    [
                        _write_only_value(ws, value, formats[index])
                        for index, value in enumerate(values_row)
                    ]
                )
            records += 1
            written += len(physical)
            if progress is not None and records % progress_every == 0:
                progress(records)
        last_column = get_column_letter(max(1, width))
        ws.auto_filter.ref = f"A1:{last_column}{written + 1}"
        _save(wb, target, stamp=generated_at or datetime.now(UTC), compresslevel=compresslevel)
    except BaseException:
        # The sheet's temporary file would otherwise stay until the process exits. The row
        # stream is closed first: left to the garbage collector it writes to a closed file.
        if not ws.closed:
            with contextlib.suppress(Exception):
                if ws._rows is not None:
                    ws._rows.close()
                ws._writer.close()
                ws._writer.cleanup()
        raise
    if progress is not None and records % progress_every:
        progress(records)
    return ExportSummary(records=records, rows=written, continued_cells=continued)


# -- the report workbook ----------------------------------------------------------------------


def _joined(items: Sequence[str] | str) -> str:
    """Several values of one cell, separated by 、 (a lone string stays as it is)."""
    if isinstance(items, str):
        return items
    return "、".join(dict.fromkeys(item for item in items if item))


@dataclass(frozen=True)
class Suggestion:
    """A row of 政策建议: a consolidated or accepted suggestion, worded for the report."""

    title: str
    problem: str  # 问题与依据
    suggestion: str  # 建议内容
    basis: str  # 政策依据
    departments: Sequence[str]  # 建议责任部门
    plan_items: Sequence[str]  # 涉及规划条目, e.g. "S3 安全预防控制体系"
    organisations: Sequence[str]  # one per proposing organisation, anonymised by the caller
    references: Sequence[str]  # 来源编号

    def cells(self) -> list[CellValue]:
        # Two anonymised parks may read the same ("某省级化工园区（江苏省）"): the count is of
        # organisations, the cell lists each distinct name once.
        return [
            self.title,
            self.problem,
            self.suggestion,
            self.basis,
            _joined(self.departments),
            _joined(self.plan_items),
            _joined(self.organisations),
            len(self.organisations),
            _joined(self.references),
        ]


@dataclass(frozen=True)
class Problem:
    """A row of 发现问题."""

    problem: str  # 问题: title and description as the report words it
    cause: str  # 原因
    impact: str  # 影响
    organisation: str  # 报送单位, anonymised by the caller
    province: str  # 所在省份
    plan_items: Sequence[str]
    tags: Sequence[str]
    references: Sequence[str]

    def cells(self) -> list[CellValue]:
        return [
            self.problem,
            self.cause,
            self.impact,
            self.organisation,
            self.province,
            _joined(self.plan_items),
            _joined(self.tags),
            _joined(self.references),
        ]


@dataclass(frozen=True)
class Experience:
    """A row of 典型经验."""

    title: str  # 经验名称
    practice: str  # 主要做法
    outcome: str  # 取得成效
    replicability: str  # 推广价值
    organisation: str  # 报送单位, anonymised by the caller
    contact: str  # 联系人 (empty when the organisation is anonymised)
    references: Sequence[str]

    def cells(self) -> list[CellValue]:
        return [
            self.title,
            self.practice,
            self.outcome,
            self.replicability,
            self.organisation,
            self.contact,
            _joined(self.references),
        ]


@dataclass(frozen=True)
class Source:
    """A row of 来源清单: one source submission."""

    reference: str  # 编号
    organisation: str  # 单位, anonymised by the caller
    submitted_on: date  # 日期
    status: str  # 状态, as a label (已采纳, 已报送…)

    def cells(self) -> list[CellValue]:
        return [self.reference, self.organisation, self.submitted_on, self.status]


@dataclass(frozen=True)
class CountTable:
    """A table of counts on 统计, drawn as a bar chart next to it.

    ``rows`` are (label, one count per column). A 合计 row is added, and a 合计 column when
    there is more than one count column; the chart shows the counts without the totals.
    """

    title: str  # e.g. "按材料类型和规划条目统计"
    label_header: str  # e.g. "规划条目"
    columns: Sequence[str]  # e.g. ("政策建议", "发现问题", "典型经验")
    rows: Sequence[tuple[str, Sequence[int]]]


@dataclass(frozen=True)
class ReportData:
    """Everything the report workbook shows, already selected, worded and anonymised.

    ``generated_at`` (naive means UTC) fixes every timestamp inside the file: the same data
    gives the same bytes. Text fields are user-derived and go through the cell rules; sequences
    become one cell joined with "、".
    """

    title: str  # 关于《"十四五"危险化学品安全生产规划方案》实施情况的汇总报告（2026年第四季度）
    organisation: str  # 填报单位, e.g. 中国石油和化学工业联合会
    report_date: date  # 填报日期
    version: int
    generated_at: datetime
    period: str = ""  # 报告期, e.g. 2026年10月1日至2026年12月31日
    document_number: str = ""  # 文号, e.g. 石化联〔2026〕12号
    suggestions: Sequence[Suggestion] = ()
    problems: Sequence[Problem] = ()
    experiences: Sequence[Experience] = ()
    sources: Sequence[Source] = ()
    statistics: Sequence[CountTable] = ()
    notes: Sequence[str] = field(default=())  # further lines for 说明


@dataclass(frozen=True)
class _Table:
    """A table sheet of the report."""

    name: str
    heading: str
    description: str
    headers: tuple[str, ...]
    # Columns (by header) that hold short values: centred, not capped.
    centred: tuple[str, ...] = ()


SUGGESTIONS = _Table(
    "政策建议",
    "政策建议汇总表",
    "汇总的政策建议及依据、建议责任部门和提出单位",
    (
        "序号",
        "标题",
        "问题与依据",
        "建议内容",
        "政策依据",
        "建议责任部门",
        "涉及规划条目",
        "提出单位",
        "提出单位数",
        "来源编号",
    ),
    ("序号", "提出单位数"),
)
PROBLEMS = _Table(
    "发现问题",
    "发现问题清单",
    "各单位报送的问题及原因、影响",
    ("序号", "问题", "原因", "影响", "报送单位", "所在省份", "规划条目", "标签", "来源编号"),
    ("序号", "所在省份"),
)
EXPERIENCES = _Table(
    "典型经验",
    "典型经验汇总表",
    "各单位的典型经验做法及成效",
    # 来源编号 is not in DOMAIN.md §4's list; every other table has it, and it links to 来源清单.
    ("序号", "经验名称", "主要做法", "取得成效", "推广价值", "报送单位", "联系人", "来源编号"),
    ("序号", "联系人"),
)
SOURCES = _Table(
    "来源清单",
    "来源材料清单",
    "本报告引用的全部来源材料",
    ("序号", "编号", "单位", "日期", "状态"),
    ("序号", "日期", "状态"),
)
GUIDE_SHEET: Final = "说明"
STATISTICS_SHEET: Final = "统计"
REPORT_SHEETS: Final = (
    GUIDE_SHEET,
    STATISTICS_SHEET,
    SUGGESTIONS.name,
    PROBLEMS.name,
    EXPERIENCES.name,
    SOURCES.name,
)
_HEADER_ROW: Final = 3  # under the title and the issuing line


def _put(ws: Any, row: int, column: int, value: CellValue, **style: Any) -> Any:
    """Write ``value`` typed into a normal-mode cell and apply ``style`` attributes."""
    cell = ws.cell(row=row, column=column)
    set_value(cell, value, date_format=OFFICIAL_DATE_FORMAT)
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def _title_row(ws: Any, row: int, text: str, columns: int, font: Font, height: float) -> None:
    """A title merged across ``columns``."""
    _put(ws, row, 1, text, font=font, alignment=_TITLE_ALIGN)
    if columns > 1:
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=columns)
    ws.row_dimensions[row].height = height


def _issuing_line(data: ReportData) -> str:
    parts = [f"填报单位：{data.organisation}", f"填报日期：{official_date(data.report_date)}"]
    parts.append(f"版本：第{data.version}版")
    return "　　".join(parts)


def _write_table(wb: Any, data: ReportData, table: _Table, rows: Iterable[list[CellValue]]) -> int:
    """A table sheet: title, issuing line, header, numbered rows; returns the records written."""
    ws = wb.create_sheet(sheet_title(table.name, wb.sheetnames))
    width = len(table.headers)
    _title_row(ws, 1, table.heading, width, _TITLE_FONT, 36)
    _title_row(ws, 2, _issuing_line(data), width, _ISSUER_FONT, 22)
    ws.cell(row=2, column=1).alignment = Alignment(horizontal="left", vertical="center")
    for column, header in enumerate(table.headers, start=1):
        _put(
            ws,
            _HEADER_ROW,
            column,
            header,
            font=_HEADER_FONT,
            fill=_HEADER_FILL,
            border=_BORDER,
            alignment=_HEADER_ALIGN,
        )
    centred = {table.headers.index(header) for header in table.centred}
    row_number = _HEADER_ROW
    written: list[list[CellValue]] = []
    records = 0
    for records, cells in enumerate(rows, start=1):
        for values in _physical_rows([records, *cells]):
            row_number += 1
            written.append(values)
            for column, value in enumerate(values, start=1):
                _put(
                    ws,
                    row_number,
                    column,
                    value,
                    font=_BODY_FONT,
                    border=_BORDER,
                    alignment=_CENTER if column - 1 in centred else _WRAP,
                )
    widths = _fit_to_page(_column_widths(table.headers, written, width))
    for index, width_units in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width_units
    shown: list[Sequence[CellValue]] = [table.headers, *written]
    for row, shown_values in enumerate(shown, start=_HEADER_ROW):
        ws.row_dimensions[row].height = _row_height(shown_values, widths)
    ws.freeze_panes = ws.cell(row=_HEADER_ROW + 1, column=1).coordinate
    ws.auto_filter.ref = f"A{_HEADER_ROW}:{get_column_letter(width)}{max(row_number, _HEADER_ROW)}"
    _print_setup(ws, title_rows=f"{_HEADER_ROW}:{_HEADER_ROW}")
    return records


_GUIDE_WIDTHS: Final = (18.0, 60.0, 12.0)


def _write_guide(wb: Any, data: ReportData, counts: dict[str, int]) -> None:
    """说明: title, issuing details, counts, contents and notes."""
    ws = wb.active
    ws.title = GUIDE_SHEET
    _title_row(ws, 1, data.title, 3, _TITLE_FONT, 60)
    lines: list[tuple[str, CellValue]] = [
        ("填报单位", data.organisation),
        ("填报日期", official_date(data.report_date)),
    ]
    if data.period:
        lines.append(("报告期", data.period))
    if data.document_number:
        lines.append(("文号", data.document_number))
    lines.append(("版本", f"第{data.version}版"))
    row = 3
    for label, value in lines:
        _put(ws, row, 1, label, font=_HEADER_FONT, border=_BORDER, fill=_HEADER_FILL)
        _put(ws, row, 2, value, font=_BODY_FONT, border=_BORDER, alignment=_WRAP)
        ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=3)
        row += 1

    row += 1
    _put(ws, row, 1, "数量统计", font=_CAPTION_FONT)
    row += 1
    units = {SUGGESTIONS.name: "条", PROBLEMS.name: "条", EXPERIENCES.name: "条"}
    for name, count in counts.items():
        _put(ws, row, 1, name, font=_BODY_FONT, border=_BORDER)
        _put(ws, row, 2, count, font=_BODY_FONT, border=_BORDER, alignment=_CENTER)
        _put(ws, row, 3, units.get(name, "份"), font=_BODY_FONT, border=_BORDER)
        row += 1

    row += 1
    _put(ws, row, 1, "内容", font=_CAPTION_FONT)
    row += 1
    contents = [
        (STATISTICS_SHEET, "按材料类型与规划条目、省份、单位类型统计的数量及图表"),
        *((table.name, table.description) for table in (SUGGESTIONS, PROBLEMS, EXPERIENCES)),
        (SOURCES.name, SOURCES.description),
    ]
    for number, (name, description) in enumerate(contents, start=1):
        _put(ws, row, 1, f"{number}. {name}", font=_BODY_FONT, border=_BORDER)
        _put(ws, row, 2, description, font=_BODY_FONT, border=_BORDER, alignment=_WRAP)
        ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=3)
        row += 1

    if data.notes:
        row += 1
        _put(ws, row, 1, "备注", font=_CAPTION_FONT)
        for note in data.notes:
            for piece in split_cell_text(excel_text(note)):
                row += 1
                _put(ws, row, 1, piece, font=_BODY_FONT, alignment=_WRAP)
                ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
                ws.row_dimensions[row].height = _row_height([piece], [sum(_GUIDE_WIDTHS)])
    for letter, width in zip("ABC", _GUIDE_WIDTHS, strict=True):
        ws.column_dimensions[letter].width = width
    _print_setup(ws, title_rows=None)


# Rows a chart of ``n`` categories needs: ~0.53 cm per default row.
def _chart_height_cm(categories: int) -> float:
    return max(7.5, 0.55 * categories + 3)


def _write_statistics(wb: Any, tables: Sequence[CountTable]) -> None:
    """统计: each count table with a total row (and column) and a bar chart beside it."""
    ws = wb.create_sheet(sheet_title(STATISTICS_SHEET, wb.sheetnames))
    widest = max((len(table.columns) for table in tables), default=1) + 2
    _title_row(ws, 1, "数量统计", widest, _TITLE_FONT, 36)
    row = 3
    label_widths: list[int] = [10]
    for table in tables:
        series = len(table.columns)
        total_column = series > 1
        width = 1 + series + (1 if total_column else 0)
        _put(ws, row, 1, table.title, font=_CAPTION_FONT)
        header_row = row + 1
        headers = [table.label_header, *table.columns, *(["合计"] if total_column else [])]
        for column, header in enumerate(headers, start=1):
            _put(
                ws,
                header_row,
                column,
                header,
                font=_HEADER_FONT,
                fill=_HEADER_FILL,
                border=_BORDER,
                alignment=_HEADER_ALIGN,
            )
        totals = [0] * series
        largest = 1  # the longest bar: a row's sum when stacked
        current = header_row
        for label, counts in table.rows:
            current += 1
            values = [int(count) for count in list(counts)[:series]]
            values += [0] * (series - len(values))
            totals = [total + value for total, value in zip(totals, values, strict=True)]
            largest = max(largest, sum(values) if series > 1 else max(values, default=0))
            cells: list[CellValue] = [label, *values, *([sum(values)] if total_column else [])]
            for column, value in enumerate(cells, start=1):
                _put(ws, current, column, value, font=_BODY_FONT, border=_BORDER)
            label_widths.append(display_width(excel_text(label)))
        last_data_row = current
        current += 1
        # Totals are numbers, not =SUM(): no cell in any export is a formula.
        total_cells: list[CellValue] = ["合计", *totals, *([sum(totals)] if total_column else [])]
        for column, value in enumerate(total_cells, start=1):
            _put(ws, current, column, value, font=_HEADER_FONT, border=_BORDER)
        chart_rows = 0
        if table.rows:
            chart = BarChart()
            chart.type = "bar" if len(table.rows) > 8 else "col"
            if series > 1:
                chart.grouping = "stacked"
                chart.overlap = 100
            chart.title = excel_text(table.title)
            chart.y_axis.title = "数量"
            # Counts: whole-number ticks, not 0.5, 1.5…
            chart.y_axis.number_format = "0"
            chart.y_axis.majorUnit = math.ceil(largest / 5)
            # openpyxl 3.1 hides axes unless told otherwise.
            chart.x_axis.delete = False
            chart.y_axis.delete = False
            data_ref = Reference(
                ws, min_col=2, max_col=1 + series, min_row=header_row, max_row=last_data_row
            )
            categories = Reference(ws, min_col=1, min_row=header_row + 1, max_row=last_data_row)
            chart.add_data(data_ref, titles_from_data=True)
            chart.set_categories(categories)
            chart.width = 18
            chart.height = _chart_height_cm(len(table.rows))
            ws.add_chart(chart, f"{get_column_letter(width + 2)}{row}")
            chart_rows = math.ceil(chart.height / 0.53)
        row = max(current, row + chart_rows) + 3
    ws.column_dimensions["A"].width = float(min(_WIDTH_MAX, max(label_widths) + 2))
    for index in range(2, widest + 1):
        ws.column_dimensions[get_column_letter(index)].width = 12
    _print_setup(ws, title_rows=None)


def write_report(target: Target, data: ReportData) -> None:
    """Write the report workbook for ``data`` to ``target`` (a path or a binary file object)."""
    wb = Workbook()
    wb.properties.title = excel_text(data.title)
    wb.properties.creator = excel_text(data.organisation)
    wb.properties.lastModifiedBy = excel_text(data.organisation)
    counts = {
        SUGGESTIONS.name: len(data.suggestions),
        PROBLEMS.name: len(data.problems),
        EXPERIENCES.name: len(data.experiences),
        "来源材料": len(data.sources),
    }
    _write_guide(wb, data, counts)
    _write_statistics(wb, data.statistics)
    _write_table(wb, data, SUGGESTIONS, (item.cells() for item in data.suggestions))
    _write_table(wb, data, PROBLEMS, (item.cells() for item in data.problems))
    _write_table(wb, data, EXPERIENCES, (item.cells() for item in data.experiences))
    _write_table(wb, data, SOURCES, (item.cells() for item in data.sources))
    _save(wb, target, stamp=data.generated_at, compresslevel=6)


def report_bytes(data: ReportData) -> bytes:
    """The report workbook for ``data`` as bytes (to hash and store when freezing)."""
    buffer = io.BytesIO()
    write_report(buffer, data)
    return buffer.getvalue()
