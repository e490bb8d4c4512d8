"""Bulk filing (批量导入) through Excel: the template to download and the defensive parser.

Park officers fill one row per submission offline. :func:`build_template` writes an .xlsx for
one kind of submission (instructions, a data sheet with drop-downs and an example row, and a
hidden code sheet); :func:`parse_import` reads an uploaded file back into clean values and
collects every problem as a file error or a row error instead of raising.

The header texts below are a contract with templates already downloaded, so they are plain
Chinese strings kept here rather than the (translatable) labels of :mod:`feedback.filing.kinds`;
a test checks they still equal the msgids there.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import openpyxl
from flask_babel import force_locale
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from feedback.codes.phone import normalise_phone
from feedback.codes.regions import provinces
from feedback.filing.kinds import (
    CONTACT_NAME_MAX,
    KINDS,
    SECTORS,
    SUMMARY_MAX,
    TITLE_MAX,
    TITLE_MIN,
    Kind,
    Sensitivity,
)
from feedback.filing.text import clean_text
from feedback.filing.uploads import UploadRejected, check_zip_safety
from feedback.reports.xlsx import needs_quote_prefix

__all__ = [
    "GUIDE_SHEET",
    "KIND_LABELS",
    "LIST_SHEET",
    "MAX_ROWS",
    "SECTION_LABELS",
    "SENSITIVITY_LABELS",
    "SHEET",
    "ImportResult",
    "ImportRow",
    "build_template",
    "parse_import",
]

GUIDE_SHEET: Final = "填写说明"
SHEET: Final = "填报"
LIST_SHEET: Final = "代码表"
MAX_ROWS: Final = 1000
_KIND_MARKER_PREFIX: Final = "kind="

KIND_LABELS: Final[dict[Kind, str]] = {
    Kind.EXPERIENCE: "典型经验",
    Kind.PROBLEM: "发现问题",
    Kind.SUGGESTION: "政策建议",
}

SECTION_LABELS: Final[dict[Kind, dict[str, str]]] = {
    Kind.EXPERIENCE: {"practice": "主要做法", "outcome": "取得成效", "replicability": "推广价值"},
    Kind.PROBLEM: {
        "description": "问题描述",
        "cause": "原因分析",
        "impact": "影响",
        "suggestion": "建议",
    },
    Kind.SUGGESTION: {
        "description": "问题与依据",
        "suggestion": "建议内容",
        "basis": "政策依据",
        "department": "建议责任部门",
    },
}

SENSITIVITY_LABELS: Final[dict[Sensitivity, str]] = {
    Sensitivity.INTERNAL: "仅联合会内部使用",
    Sensitivity.MINISTRY: "可报送应急管理部",
    Sensitivity.PUBLIC: "可公开",
}

# Excel refuses longer cells; openpyxl would silently truncate them.
_EXCEL_CELL_MAX: Final = 32_767
# Rows the drop-downs cover: the header plus MAX_ROWS data rows.
_VALIDATED_ROWS: Final = f"2:{MAX_ROWS + 1}"
# Physical rows read beyond the data limit, for rows emptied but left behind by Excel. Reading
# stops there, so a sheet claiming a cell at row 1,048,576 cannot keep the parser busy.
_SPARE_ROWS: Final = 10_000
# Header cells read beyond the expected ones, to name an unexpected extra column.
_SPARE_COLUMNS: Final = 20

_ZIP_MAGIC: Final = b"PK\x03\x04"
_MIB: Final = 1024 * 1024

_ITEM_SEPARATORS: Final = re.compile(r"[、,，;；\n]+")
_PLAN_CODE: Final = re.compile(r"[A-Z][A-Z0-9]*(?:\.[A-Z0-9]+)*")
# Longest first, so "广西壮族自治区" loses "壮族自治区" rather than just "自治区".
_PROVINCE_SUFFIXES: Final = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
)

_HEADER_FILL: Final = PatternFill("solid", fgColor="DDEBF7")
_EXAMPLE_FILL: Final = PatternFill("solid", fgColor="FFF2CC")
_WRAP: Final = Alignment(wrap_text=True, vertical="top")


# -- columns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    """One column of the data sheet."""

    key: str  # key in ImportRow.values, or the section key when ``section`` is set
    label: str
    required: bool
    guide: str  # what to write, for the instructions sheet
    width: int
    max_length: int | None = None
    min_length: int = 0
    section: bool = False

    @property
    def header(self) -> str:
        """The header cell text: required columns are marked with " *"."""
        return f"{self.label} *" if self.required else self.label


def _chinese(text: object) -> str:
    """A lazy gettext string as its Chinese msgid, even inside an English request."""
    # No "zh" catalogue exists, so gettext falls back to the msgid; with no app context
    # force_locale does nothing and gettext already returns the msgid.
    with force_locale("zh"):
        return str(text)


@cache
def _columns(kind: Kind) -> tuple[_Column, ...]:
    """The data sheet's columns for ``kind``, in order."""
    sensitivities = " / ".join(SENSITIVITY_LABELS.values())
    common = (
        _Column(
            "title",
            "标题",
            True,
            f"一句话概括，{TITLE_MIN}–{TITLE_MAX}个字。",
            30,
            TITLE_MAX,
            TITLE_MIN,
        ),
        _Column(
            "summary", "摘要", True, f"简要说明主要内容，不超过{SUMMARY_MAX}个字。", 40, SUMMARY_MAX
        ),
        _Column(
            "plan_codes",
            "规划条目",
            True,
            "对应的规划条目编号，多个用“、”或“,”分隔，如“S3、E1”；可从下拉列表选择，"
            "选择后显示为“编号 名称”，导入时只取编号。编号见“代码表”。",
            22,
        ),
        _Column(
            "tag_names",
            "建议标签",
            False,
            "可选。标签名称，多个用“、”分隔，如“重大危险源、特殊作业”；须为“代码表”中的标签。",
            22,
        ),
        _Column(
            "region_code",
            "所在省份",
            True,
            "省级行政区名称，如“江苏省”或“江苏”；可从下拉列表选择。",
            14,
        ),
        _Column(
            "sector", "行业领域", False, "可选。从下拉列表选择：" + "、".join(SECTORS) + "。", 16
        ),
        _Column(
            "contact_name",
            "联系人",
            True,
            f"填报联系人姓名，不超过{CONTACT_NAME_MAX}个字。",
            10,
            CONTACT_NAME_MAX,
        ),
        _Column(
            "contact_phone",
            "联系电话",
            True,
            "11位手机号（如13812345678）或带区号的固定电话（如010-12345678）。",
            16,
        ),
        _Column("sensitivity", "敏感程度", True, f"从下拉列表选择：{sensitivities}。", 18),
    )
    labels = SECTION_LABELS[kind]
    sections = tuple(
        _Column(
            section.key,
            labels[section.key],
            section.required,
            _chinese(section.hint)
            + (f"至少{section.min_length}个字。" if section.min_length else ""),
            50,
            section.max_length,
            section.min_length,
            section=True,
        )
        for section in KINDS[kind].sections
    )
    return common + sections


# -- the example row ----------------------------------------------------------------------------

# The fixed texts of each kind's example row; plan codes and tags come from the catalogue.
_EXAMPLES: Final[dict[Kind, dict[str, str]]] = {
    Kind.EXPERIENCE: {
        "title": "化工园区推行特殊作业电子票证闭环管理",
        "summary": "园区统一上线特殊作业电子票证系统，动火、受限空间等作业全过程留痕，"
        "作业审批时间缩短一半，违章作业明显减少。",
        "practice": "园区管委会统一建设特殊作业电子票证系统，企业通过手机申请、审批和验收；"
        "动火、受限空间作业必须上传气体检测数据和现场照片，监护人全程视频在线。",
        "outcome": "上线一年覆盖园区内42家企业，累计办理电子票证1.2万张，"
        "特殊作业违章行为同比下降63%。",
        "replicability": "适用于已建成智能化管控平台的化工园区，需要企业配备移动终端和气体检测仪。",
    },
    Kind.PROBLEM: {
        "title": "部分企业可燃有毒气体报警仪长期未校验",
        "summary": "检查发现园区内部分中小企业的可燃有毒气体报警仪超期未校验，"
        "个别探头已失效，报警信号未接入控制室。",
        "description": "今年二季度园区专项检查覆盖28家企业，"
        "其中9家企业存在报警仪超过一年未校验的情况，"
        "3家企业的探头已失效，2家企业报警信号未接入有人值守的控制室。",
        "cause": "企业对报警仪校验重视不够，本地具备资质的校验机构少、费用较高。",
        "impact": "泄漏不能及时发现，可能引发火灾、爆炸或中毒事故。",
        "suggestion": "将报警仪校验纳入园区统一服务，由园区集中采购校验服务并建立台账。",
    },
    Kind.SUGGESTION: {
        "title": "建议将中小化工企业安全技术服务纳入财政补助",
        "summary": "中小化工企业普遍缺少专业安全技术力量，建议对其购买安全技术服务给予财政补助。",
        "description": "据对本省156家中小化工企业的调查，71%的企业没有注册安全工程师，"
        "多数企业无力承担第三方安全诊断费用，隐患排查质量不高。",
        "suggestion": "中央和地方财政设立专项资金，对中小化工企业购买安全诊断、"
        "培训等技术服务按费用的50%给予补助。",
        "basis": "《“十四五”危险化学品安全生产规划方案》关于中小企业安全技术服务的要求。",
        "department": "应急管理部、财政部",
    },
}
_EXAMPLE_COMMON: Final[dict[str, str]] = {
    "region_code": "江苏省",
    "sector": SECTORS[0],
    "contact_name": "张三",
    "contact_phone": "13812345678",
    "sensitivity": SENSITIVITY_LABELS[Sensitivity.MINISTRY],
}
# Plan codes and tags of the example depend on the catalogue at download time, which may have
# changed by upload time, so they are left out when recognising an untouched example row.
_EXAMPLE_IGNORED: Final = frozenset({"plan_codes", "tag_names"})


def _example_row(
    kind: Kind, plan_items: Sequence[tuple[str, str]], tags: Sequence[str]
) -> dict[str, str]:
    """The example row's cell texts by column key."""
    return {
        **_EXAMPLE_COMMON,
        **_EXAMPLES[kind],
        "plan_codes": "、".join(code for code, _name in plan_items[:2]),
        "tag_names": "、".join(tags[:2]),
    }


# -- writing ----------------------------------------------------------------------------------


def _strip_illegal(text: str) -> str:
    """``text`` without the control characters XML (and so openpyxl) refuses."""
    return "".join(c for c in text if c in "\t\n\r" or unicodedata.category(c) != "Cc")


def _put(ws: Any, row: int, column: int, value: str) -> Any:
    """Write ``value`` as a text cell, never as a formula (SECURITY.md finding 1)."""
    text = _strip_illegal(value)[:_EXCEL_CELL_MAX]
    cell = ws.cell(row=row, column=column)
    cell.value = text
    # After the value: assigning a value infers the type again and would undo this.
    cell.data_type = "s"
    # openpyxl stores trigger-led text as text, but Excel turns it into a formula on edit or CSV
    # export; the shared rule also skips non-ASCII blanks ("\u3000＝1").
    if needs_quote_prefix(text):
        cell.quotePrefix = True
    return cell


def _write_guide(wb: Any, kind: Kind, columns: Sequence[_Column]) -> None:
    """The instructions sheet."""
    ws = wb.active
    ws.title = GUIDE_SHEET
    kind_label = KIND_LABELS[kind]
    _put(ws, 1, 1, f"批量导入填写说明（{kind_label}）").font = Font(bold=True, size=14)
    notes = (
        f"本模板只用于导入“{kind_label}”，请在“{SHEET}”工作表中填写。",
        f"每行一条材料；第1行为表头，请勿修改；最多 {MAX_ROWS} 行。",
        "列名后标 * 的为必填项。",
        "第2行是示例（黄色底色），请删除或覆盖后再填写；未修改的示例行导入时会被忽略。",
        "请直接填写文字或数字，不要使用公式；从其他表格复制时请“粘贴为数值”。",
    )
    for offset, note in enumerate(notes):
        _put(ws, 2 + offset, 1, note)
    header_row = 3 + len(notes)
    for column, text in enumerate(("列名", "是否必填", "填写要求", "最多字数"), start=1):
        cell = _put(ws, header_row, column, text)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    for offset, spec in enumerate(columns, start=1):
        row = header_row + offset
        _put(ws, row, 1, spec.header)
        _put(ws, row, 2, "必填" if spec.required else "选填")
        _put(ws, row, 3, spec.guide).alignment = _WRAP
        if spec.max_length:
            _put(ws, row, 4, str(spec.max_length))
    for letter, width in zip("ABCD", (16, 10, 80, 10), strict=True):
        ws.column_dimensions[letter].width = width


def _write_lists(
    wb: Any, kind: Kind, plan_items: Sequence[tuple[str, str]], tags: Sequence[str]
) -> dict[str, str]:
    """The hidden code sheet; returns a range reference per list-backed column key."""
    ws = wb.create_sheet(LIST_SHEET)
    # A1 tells the parser which kind the template is for.
    _put(ws, 1, 1, f"{_KIND_MARKER_PREFIX}{kind.value}")
    lists: dict[str, tuple[str, list[str]]] = {
        "plan_codes": ("规划条目", [f"{code} {name}" for code, name in plan_items]),
        "tag_names": ("建议标签", list(tags)),
        "region_code": ("所在省份", [region.name for region in provinces()]),
        "sector": ("行业领域", list(SECTORS)),
        "sensitivity": ("敏感程度", list(SENSITIVITY_LABELS.values())),
    }
    ranges: dict[str, str] = {}
    for column, (key, (title, values)) in enumerate(lists.items(), start=2):
        letter = get_column_letter(column)
        _put(ws, 1, column, title).font = Font(bold=True)
        for row, value in enumerate(values, start=2):
            _put(ws, row, column, value)
        ws.column_dimensions[letter].width = 30
        if values:  # an empty range ($B$2:$B$1) would be an invalid validation
            ranges[key] = f"'{LIST_SHEET}'!${letter}$2:${letter}${len(values) + 1}"
    ws.sheet_state = "hidden"
    return ranges


def _add_validations(ws: Any, columns: Sequence[_Column], ranges: dict[str, str]) -> None:
    """Drop-down lists on the data sheet's list-backed columns."""
    for index, spec in enumerate(columns, start=1):
        if spec.key not in ranges:
            continue
        # Several codes or tags go into one cell, so typed text must not be refused there.
        strict = spec.key not in ("plan_codes", "tag_names")
        validation = DataValidation(
            type="list",
            formula1=ranges[spec.key],
            allow_blank=True,
            showErrorMessage=strict,
            errorTitle=spec.label,
            error=f"请从下拉列表中选择{spec.label}。",
            showInputMessage=True,
            promptTitle=spec.label,
            prompt=spec.guide[:255],  # Excel's limit for an input message
        )
        letter = get_column_letter(index)
        first, last = _VALIDATED_ROWS.split(":")
        validation.add(f"{letter}{first}:{letter}{last}")
        ws.add_data_validation(validation)


def _write_data_sheet(
    wb: Any,
    kind: Kind,
    columns: Sequence[_Column],
    plan_items: Sequence[tuple[str, str]],
    tags: Sequence[str],
) -> Any:
    """The data sheet: header, example row, widths and frozen header."""
    ws = wb.create_sheet(SHEET)
    example = _example_row(kind, plan_items, tags)
    for index, spec in enumerate(columns, start=1):
        header = _put(ws, 1, index, spec.header)
        header.font = Font(bold=True, color="C00000" if spec.required else "000000")
        header.fill = _HEADER_FILL
        header.alignment = _WRAP
        cell = _put(ws, 2, index, example[spec.key])
        cell.fill = _EXAMPLE_FILL
        cell.alignment = _WRAP
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = spec.width
        # A column style reaches the cells users add, without writing 1,000 empty cells.
        ws.column_dimensions[letter].alignment = _WRAP
        if spec.key == "contact_phone":
            ws.column_dimensions[letter].number_format = "@"  # keep leading zeros of 010-…
    ws["A2"].comment = Comment(
        "示例行：请删除或覆盖此行后再填写。未修改的示例行导入时会被忽略。", "系统"
    )
    ws.freeze_panes = "A2"
    return ws


def build_template(kind: Kind, *, plan_items: list[tuple[str, str]], tags: list[str]) -> bytes:
    """Return the .xlsx import template for ``kind``.

    ``plan_items`` are the active (code, name) pairs and ``tags`` the tag names offered in the
    drop-downs; both are also listed on the hidden code sheet.
    """
    columns = _columns(kind)
    wb = openpyxl.Workbook()
    wb.properties.title = f"批量导入模板（{KIND_LABELS[kind]}）"
    wb.properties.subject = f"{_KIND_MARKER_PREFIX}{kind.value}"
    _write_guide(wb, kind, columns)
    data = _write_data_sheet(wb, kind, columns, plan_items, tags)
    ranges = _write_lists(wb, kind, plan_items, tags)
    _add_validations(data, columns, ranges)
    # Open on the data sheet. The guide's tab must be deselected too: two selected tabs are
    # grouped in Excel, and typing into one sheet would then write into both.
    wb.active = wb.index(data)
    wb[GUIDE_SHEET].sheet_view.tabSelected = False
    data.sheet_view.tabSelected = True
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# -- parsing ----------------------------------------------------------------------------------


@dataclass
class ImportRow:
    """One data row of an import: its Excel row number, clean values and problems.

    ``values`` holds what could be read: "title", "summary", "plan_codes" (list[str]),
    "tag_names" (list[str]), "region_code" (province code), "sector" (str | None),
    "contact_name", "contact_phone" (normalised), "sensitivity" (Sensitivity) and
    "sections" (dict of section key to text). It is complete only when ``errors`` is empty.
    """

    number: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """The outcome of reading an import file."""

    kind: Kind
    rows: list[ImportRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    @property
    def ok_rows(self) -> list[ImportRow]:
        """Rows without problems."""
        return [row for row in self.rows if not row.errors]

    @property
    def bad_rows(self) -> list[ImportRow]:
        """Rows with at least one problem."""
        return [row for row in self.rows if row.errors]

    @property
    def is_clean(self) -> bool:
        """Whether the whole file can be imported as it is."""
        return not self.file_errors and not self.bad_rows


@dataclass(frozen=True)
class _RawCell:
    """What was read from one cell: its text (already cleaned) and how it was stored."""

    text: str
    formula: bool = False
    error: bool = False  # an Excel error value such as #N/A


class _FileProblem(Exception):
    """A problem with the file as a whole; its message is shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _value_text(value: object) -> str:
    """The text of a cell value as a person would read it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        # A phone typed as a number comes back as 13812345678.0.
        return str(int(value))
    return str(value)


def _read_cell(cell: Any) -> _RawCell:
    """Read a read-only cell without trusting its content."""
    value = getattr(cell, "value", None)
    data_type = getattr(cell, "data_type", None)
    if data_type == "f":
        return _RawCell("", formula=True)
    if data_type == "e":
        return _RawCell("", error=True)
    return _RawCell(clean_text(_value_text(value), multiline=True))


def _marker_kind(wb: Any) -> Kind | None:
    """The kind recorded on the code sheet, None if there is no marker.

    Raises _FileProblem for a marker naming no known kind.
    """
    if LIST_SHEET not in wb.sheetnames:
        return None
    rows = wb[LIST_SHEET].iter_rows(min_row=1, max_row=1, max_col=1, values_only=True)
    first = next(iter(rows), (None,))
    marker = first[0] if first else None
    if not isinstance(marker, str) or not marker.startswith(_KIND_MARKER_PREFIX):
        return None
    try:
        return Kind(marker.removeprefix(_KIND_MARKER_PREFIX).strip())
    except ValueError:
        raise _FileProblem("无法识别模板类型。请下载最新模板。") from None


def _header_key(text: str) -> str:
    """A header cell reduced for comparison: without the " *" mark and spaces."""
    return "".join(text.split()).rstrip("*＊")


def _check_header(header: Sequence[str], columns: Sequence[_Column]) -> None:
    """Raise _FileProblem naming the first column that differs from the template."""
    found = [_header_key(text) for text in header]
    while found and not found[-1]:
        found.pop()
    expected = [spec.label for spec in columns]
    if found == expected:
        return
    advice = "请下载最新模板。"
    for position, label in enumerate(expected):
        actual = found[position] if position < len(found) else ""
        if actual == label:
            continue
        if label not in found:
            raise _FileProblem(f"表头与模板不一致：缺少“{label}”列。{advice}")
        if actual and actual not in expected:
            raise _FileProblem(f"表头与模板不一致：多出“{actual}”列。{advice}")
        raise _FileProblem(f"表头与模板不一致：“{label}”列的位置不对。{advice}")
    extra = next(text for text in found[len(expected) :] if text)
    raise _FileProblem(f"表头与模板不一致：多出“{extra}”列。{advice}")


def _read_rows(
    path: Path, kind: Kind, columns: Sequence[_Column], max_rows: int
) -> list[tuple[int, list[_RawCell]]]:
    """Read the data rows that are not empty, with their Excel row numbers.

    Raises _FileProblem for a wrong kind, sheet or header, or too many rows; lets openpyxl's
    own exceptions through for a corrupt file.
    """
    width = len(columns)
    rows: list[tuple[int, list[_RawCell]]] = []
    # openpyxl warns about workbook features it drops (extensions, styles); they are harmless
    # here and must not turn into errors where warnings are errors.
    with warnings.catch_warnings(), path.open("rb") as handle:
        warnings.simplefilter("ignore")
        # A file object rather than the path: openpyxl refuses paths not ending in .xlsx, and
        # uploads are stored under random names. data_only=False so formula cells show up as
        # formulas (data type "f") instead of cached values a formula could have faked.
        wb = openpyxl.load_workbook(handle, read_only=True, data_only=False)
        try:
            marked = _marker_kind(wb)
            if marked is not None and marked != kind:
                raise _FileProblem(
                    f"这是“{KIND_LABELS[marked]}”模板，但您选择导入“{KIND_LABELS[kind]}”。"
                    f"请下载“{KIND_LABELS[kind]}”模板，或改选“{KIND_LABELS[marked]}”。"
                )
            if SHEET not in wb.sheetnames:
                raise _FileProblem(f"找不到“{SHEET}”工作表。请使用下载的模板填写。")
            ws = wb[SHEET]
            # The declared dimension may be wrong (or a lie): read what is really there.
            ws.reset_dimensions()
            header_rows = ws.iter_rows(
                min_row=1, max_row=1, max_col=width + _SPARE_COLUMNS, values_only=True
            )
            header = next(iter(header_rows), ())
            _check_header(
                [clean_text(_value_text(value), multiline=False) for value in header], columns
            )
            last_row = 1 + max_rows + _SPARE_ROWS
            for number, cells in enumerate(ws.iter_rows(min_row=2, max_col=width), start=2):
                if number > last_row:
                    raise _FileProblem(
                        f"表格行数过多：第{last_row}行以后仍有内容或格式。"
                        f"请删除多余的行，每次最多导入 {max_rows} 行。"
                    )
                raw = [_read_cell(cell) for cell in cells]
                raw += [_RawCell("")] * (width - len(raw))
                if all(not c.text and not c.formula and not c.error for c in raw):
                    continue
                rows.append((number, raw))
                # The example row is dropped later, so allow one row more here.
                if len(rows) > max_rows + 1:
                    break
        finally:
            # A read-only workbook keeps its zip archive open until closed.
            wb.close()
    return rows


def _split(text: str) -> list[str]:
    """Items of a list cell separated by 、 , ， ; ； or line breaks, without duplicates."""
    parts = (part.strip() for part in _ITEM_SEPARATORS.split(text))
    return list(dict.fromkeys(part for part in parts if part))


def _plan_codes(text: str) -> list[str]:
    """The plan codes in a cell such as "S3、E1", "S3 E1" or "S3 安全预防控制体系, e1".

    Within one separated part the first word is a code; the next words are codes too when all
    of them look like codes, and otherwise the item's name (as the drop-down writes it).
    """
    codes: list[str] = []
    for part in _split(unicodedata.normalize("NFKC", text)):
        words = part.split()
        rest = [word.upper() for word in words[1:]]
        codes.append(words[0].upper())
        if rest and all(_PLAN_CODE.fullmatch(word) for word in rest):
            codes.extend(rest)
    return list(dict.fromkeys(codes))


@cache
def _province_lookup() -> dict[str, str]:
    """Province name, short name or code → province code."""
    lookup: dict[str, str] = {}
    for region in provinces():
        lookup[region.code] = region.code
        lookup[region.name] = region.code
        for suffix in _PROVINCE_SUFFIXES:
            if region.name.endswith(suffix) and len(region.name) > len(suffix) + 1:
                lookup.setdefault(region.name.removesuffix(suffix), region.code)
                break
    return lookup


@cache
def _sector_lookup() -> dict[str, str]:
    """Sector compared loosely (full-width or ASCII brackets) → sector as stored."""
    return {unicodedata.normalize("NFKC", sector): sector for sector in SECTORS}


def _sensitivity(text: str) -> Sensitivity | None:
    """The sensitivity named by its Chinese label or English value."""
    for sensitivity, label in SENSITIVITY_LABELS.items():
        if text == label:
            return sensitivity
    try:
        return Sensitivity(text.strip().lower())
    except ValueError:
        return None


def _quoted(items: Iterable[str]) -> str:
    return "、".join(f"“{item}”" for item in items)


def _check_length(text: str, spec: _Column, errors: list[str], prefix: str) -> None:
    """Add errors for a text outside the column's length limits."""
    if spec.max_length is not None and len(text) > spec.max_length:
        errors.append(f"{prefix}不能超过{spec.max_length}个字（现有{len(text)}个字）")
    elif text and len(text) < spec.min_length:
        errors.append(f"{prefix}至少{spec.min_length}个字（现有{len(text)}个字）")


def _validate(
    number: int,
    cells: Sequence[_RawCell],
    columns: Sequence[_Column],
    known_plan_codes: set[str],
    known_tags: set[str],
) -> ImportRow:
    """Turn one row's cells into clean values, collecting every problem of the row."""
    row = ImportRow(number=number, values={"sections": {}})
    errors = row.errors
    for spec, cell in zip(columns, cells, strict=True):
        prefix = f"第{number}行 {spec.label}："
        if cell.formula:
            errors.append(f"{prefix}不能使用公式，请粘贴为数值")
            continue
        if cell.error:
            errors.append(f"{prefix}单元格是错误值（如 #N/A），请改为文字")
            continue
        # Sections keep their line breaks; list cells use them as separators.
        multiline = spec.section or spec.key in ("plan_codes", "tag_names")
        text = cell.text if multiline else clean_text(cell.text, multiline=False)
        if not text:
            if spec.required:
                errors.append(f"{prefix}不能为空")
            if spec.section:
                row.values["sections"][spec.key] = ""
            elif spec.key in ("plan_codes", "tag_names"):
                row.values[spec.key] = []
            else:
                row.values[spec.key] = None if spec.key == "sector" else ""
            continue
        if spec.section:
            _check_length(text, spec, errors, prefix)
            row.values["sections"][spec.key] = text
            continue
        match spec.key:
            case "title" | "summary" | "contact_name":
                _check_length(text, spec, errors, prefix)
                row.values[spec.key] = text
            case "plan_codes":
                codes = _plan_codes(text)
                unknown = [code for code in codes if code not in known_plan_codes]
                if unknown:
                    errors.append(f"{prefix}{_quoted(unknown)}不存在")
                row.values[spec.key] = codes
            case "tag_names":
                names = _split(text)
                unknown = [name for name in names if name not in known_tags]
                if unknown:
                    errors.append(f"{prefix}标签{_quoted(unknown)}不在词表中")
                row.values[spec.key] = names
            case "region_code":
                code = _province_lookup().get(text.replace(" ", ""))
                if code is None:
                    errors.append(f"{prefix}“{text}”不是省级行政区，请从下拉列表选择")
                row.values[spec.key] = code or ""
            case "sector":
                sector = _sector_lookup().get(unicodedata.normalize("NFKC", text))
                if sector is None:
                    errors.append(f"{prefix}“{text}”不在可选范围内（{'、'.join(SECTORS)}）")
                row.values[spec.key] = sector
            case "contact_phone":
                phone = normalise_phone(text)
                if phone is None:
                    errors.append(
                        f"{prefix}格式不正确（请填写11位手机号如13812345678，"
                        "或带区号的固定电话如010-12345678）"
                    )
                row.values[spec.key] = phone or ""
            case "sensitivity":
                sensitivity = _sensitivity(text)
                if sensitivity is None:
                    choices = " / ".join(SENSITIVITY_LABELS.values())
                    errors.append(f"{prefix}“{text}”不是可选值（{choices}）")
                row.values[spec.key] = sensitivity
            case _:  # pragma: no cover - every common column is handled above
                raise AssertionError(spec.key)
    return row


def _is_example(kind: Kind, cells: Sequence[_RawCell], columns: Sequence[_Column]) -> bool:
    """Whether a row is the template's example row, left as it was."""
    example = _example_row(kind, (), ())
    return all(
        not cell.formula and cell.text == example[spec.key]
        for spec, cell in zip(columns, cells, strict=True)
        if spec.key not in _EXAMPLE_IGNORED
    )


def parse_import(
    path: Path,
    display_name: str,
    *,
    kind: Kind,
    known_plan_codes: set[str],
    known_tags: set[str],
    max_rows: int = MAX_ROWS,
    max_bytes: int = 10 * _MIB,
) -> ImportResult:
    """Read an uploaded import file for ``kind`` into clean rows; never raises for bad content.

    Checks run cheapest and safest first: size, zip signature, zip-bomb limits, package
    contents, then openpyxl. Problems with the whole file end up in ``file_errors`` (and no
    rows are returned); problems of single rows in their ``errors``, prefixed "第N行 列名：".
    ``known_plan_codes`` are the active plan item codes, ``known_tags`` the tag names.
    """
    result = ImportResult(kind=kind)
    name = clean_text(display_name, multiline=False) or "上传的文件"
    not_xlsx = f"“{name}”不是 .xlsx 文件。请使用下载的模板填写后上传。"
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            magic = handle.read(len(_ZIP_MAGIC))
    except OSError:
        result.file_errors.append(f"无法读取“{name}”，请重新上传。")
        return result
    if size > max_bytes:
        result.file_errors.append(
            f"“{name}”超过 {max_bytes / _MIB:g} MB，请删除多余内容或分批导入。"
        )
        return result
    if magic != _ZIP_MAGIC:
        result.file_errors.append(not_xlsx)
        return result
    try:
        check_zip_safety(path, display_name)
    except UploadRejected as exc:
        result.file_errors.append(exc.message)
        return result
    corrupt = f"“{name}”文件已损坏或不是有效的 .xlsx，请用 Excel 或 WPS 打开后另存为 .xlsx 再上传。"
    try:
        with zipfile.ZipFile(path) as archive:
            # Part names are case-insensitive in OOXML.
            members = {member.casefold() for member in archive.namelist()}
    except (zipfile.BadZipFile, OSError):
        result.file_errors.append(corrupt)
        return result
    if "xl/workbook.xml" not in members:
        result.file_errors.append(not_xlsx)
        return result
    if any(member.rsplit("/", 1)[-1] == "vbaproject.bin" for member in members):
        result.file_errors.append(f"“{name}”含有宏，不能导入。请另存为不含宏的 .xlsx 文件。")
        return result

    columns = _columns(kind)
    try:
        raw_rows = _read_rows(path, kind, columns, max_rows)
    except _FileProblem as problem:
        result.file_errors.append(problem.message)
        return result
    except Exception:
        # Anything openpyxl or the XML parser raises (bad XML, entity bombs refused by
        # defusedxml, missing parts) means the file cannot be read; the user gets one message.
        result.file_errors.append(corrupt)
        return result

    data_rows = [
        (number, cells) for number, cells in raw_rows if not _is_example(kind, cells, columns)
    ]
    if len(data_rows) > max_rows:
        result.file_errors.append(f"数据超过 {max_rows} 行，请分批导入（每次最多 {max_rows} 行）。")
        return result
    if not data_rows:
        result.file_errors.append("表格中没有要导入的数据（未修改的示例行会被忽略）。")
        return result
    result.rows = [
        _validate(number, cells, columns, known_plan_codes, known_tags)
        for number, cells in data_rows
    ]
    return result
