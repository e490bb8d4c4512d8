"""Tests for the bulk-import Excel template and its defensive parser."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from feedback.filing import spreadsheet
from feedback.filing.kinds import (
    KINDS,
    SENSITIVITY_LABELS,
    SUMMARY_MAX,
    TITLE_MAX,
    TITLE_MIN,
    Kind,
    Sensitivity,
)
from feedback.filing.spreadsheet import (
    KIND_LABELS,
    SECTION_LABELS,
    ImportResult,
    build_template,
    parse_import,
)
from feedback.taxonomy.seed import PLAN_ITEMS, TAG_GROUPS

PLAN = list(PLAN_ITEMS)
CODES = {code for code, _name in PLAN}
TAGS = [tag for _code, _name, tags in TAG_GROUPS for tag in tags]

COMMON_HEADERS = [
    "标题 *",
    "摘要 *",
    "规划条目 *",
    "建议标签",
    "所在省份 *",
    "行业领域",
    "联系人 *",
    "联系电话 *",
    "敏感程度 *",
]

Cells = Mapping[str, object]


def headers(kind: Kind) -> list[str]:
    """The header row the template must have, written out independently of the module."""
    return COMMON_HEADERS + [
        SECTION_LABELS[kind][s.key] + (" *" if s.required else "") for s in KINDS[kind].sections
    ]


@cache
def template(kind: Kind) -> bytes:
    return build_template(kind, plan_items=PLAN, tags=TAGS)


def section_text(kind: Kind, key: str, number: int) -> str:
    return f"第{number}条材料的{SECTION_LABELS[kind][key]}：园区组织企业逐项排查并建立整改台账。"


def valid_cells(kind: Kind, number: int) -> dict[str, object]:
    """A complete, valid row by column label (without the " *")."""
    cells: dict[str, object] = {
        "标题": f"第{number}条材料的标题",
        "摘要": "园区开展专项检查的情况摘要。",
        "规划条目": "S3、E1",
        "建议标签": "重大危险源",
        "所在省份": "江苏",
        "行业领域": "医药",
        "联系人": "李四",
        "联系电话": "13912345678",
        "敏感程度": "可公开",
    }
    for section in KINDS[kind].sections:
        cells[SECTION_LABELS[kind][section.key]] = section_text(kind, section.key, number)
    return cells


def valid_values(kind: Kind, number: int) -> dict[str, Any]:
    """The clean values :func:`valid_cells` must give."""
    return {
        "title": f"第{number}条材料的标题",
        "summary": "园区开展专项检查的情况摘要。",
        "plan_codes": ["S3", "E1"],
        "tag_names": ["重大危险源"],
        "region_code": "320000",
        "sector": "医药",
        "contact_name": "李四",
        "contact_phone": "13912345678",
        "sensitivity": Sensitivity.PUBLIC,
        "sections": {s.key: section_text(kind, s.key, number) for s in KINDS[kind].sections},
    }


def columns_by_label(ws: Any) -> dict[str, int]:
    return {
        str(cell.value).removesuffix(" *"): cell.column for cell in ws[1] if cell.value is not None
    }


def make_file(
    tmp_path: Path,
    kind: Kind,
    rows: Mapping[int, Cells],
    *,
    source: Kind | None = None,
    edit: Callable[[Any], None] | None = None,
    name: str = "import.xlsx",
) -> Path:
    """Fill rows of a downloaded template (of ``source`` kind, default ``kind``) and save it."""
    wb = openpyxl.load_workbook(io.BytesIO(template(source or kind)))
    ws = wb[spreadsheet.SHEET]
    columns = columns_by_label(ws)
    for number, cells in rows.items():
        for label, value in cells.items():
            ws.cell(row=number, column=columns[label], value=value)
    if edit is not None:
        edit(wb)
    path = tmp_path / name
    wb.save(path)
    return path


def parse(path: Path, kind: Kind, **kwargs: Any) -> ImportResult:
    return parse_import(
        path, "批量导入.xlsx", kind=kind, known_plan_codes=CODES, known_tags=set(TAGS), **kwargs
    )


def errors_by_row(result: ImportResult) -> dict[int, list[str]]:
    return {row.number: row.errors for row in result.rows}


# -- labels stay in step with kinds.py ------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
def test_section_labels_match_kinds(kind: Kind) -> None:
    # Outside an app context gettext gives back the msgid: the Chinese text.
    assert SECTION_LABELS[kind] == {s.key: str(s.label) for s in KINDS[kind].sections}
    assert KIND_LABELS[kind] == str(KINDS[kind].label)


def test_sensitivity_labels_match_kinds() -> None:
    expected = {key: str(label) for key, label in SENSITIVITY_LABELS.items()}
    assert expected == spreadsheet.SENSITIVITY_LABELS


# -- the template ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
def test_template_layout(kind: Kind) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(template(kind)))
    assert wb.sheetnames == ["填写说明", "填报", "代码表"]
    assert wb.properties.title == f"批量导入模板（{KIND_LABELS[kind]}）"

    ws = wb["填报"]
    assert [cell.value for cell in ws[1]] == headers(kind)
    assert ws.freeze_panes == "A2"
    assert ws["A2"].comment is not None
    assert "删除或覆盖" in ws["A2"].comment.text
    assert all(cell.value for cell in ws[2][:9])  # the example row is filled
    assert wb.active.title == "填报"
    assert not wb["填写说明"].sheet_view.tabSelected  # tabs grouped in Excel otherwise

    codes = wb["代码表"]
    assert codes.sheet_state == "hidden"
    assert codes["A1"].value == f"kind={kind.value}"

    guide = [cell.value for row in wb["填写说明"].iter_rows() for cell in row if cell.value]
    assert "每行一条材料；第1行为表头，请勿修改；最多 1000 行。" in guide
    for header in headers(kind):
        assert header in guide


@pytest.mark.parametrize("kind", list(Kind))
def test_template_data_validations(kind: Kind) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(template(kind)))
    validations = {str(v.sqref): v for v in wb["填报"].data_validations.dataValidation}
    expected = {
        "C2:C1001": ("B", len(PLAN), False),  # 规划条目
        "D2:D1001": ("C", len(TAGS), False),  # 建议标签
        "E2:E1001": ("D", 34, True),  # 所在省份
        "F2:F1001": ("E", 6, True),  # 行业领域
        "I2:I1001": ("F", 3, True),  # 敏感程度
    }
    assert set(validations) == set(expected)
    codes = wb["代码表"]
    for sqref, (letter, count, strict) in expected.items():
        validation = validations[sqref]
        assert validation.type == "list"
        assert validation.formula1 == f"'代码表'!${letter}$2:${letter}${count + 1}"
        assert validation.showErrorMessage is strict
        assert codes[f"{letter}{count + 1}"].value is not None
        assert codes[f"{letter}{count + 2}"].value is None
    assert codes["B9"].value == "S3 安全预防控制体系"
    assert [codes[f"F{row}"].value for row in (2, 3, 4)] == [
        "仅联合会内部使用",
        "可报送应急管理部",
        "可公开",
    ]


def test_template_without_plan_items_or_tags_has_no_empty_lists() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(build_template(Kind.PROBLEM, plan_items=[], tags=[])))
    sqrefs = {str(v.sqref) for v in wb["填报"].data_validations.dataValidation}
    assert sqrefs == {"E2:E1001", "F2:F1001", "I2:I1001"}


def test_template_has_no_formulas_even_for_formula_like_names(tmp_path: Path) -> None:
    payloads = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "@SUM(1)", "-5", "＝1+2"]
    data = build_template(
        Kind.EXPERIENCE, plan_items=[("Z1", payloads[0]), ("Z2", "=1+2")], tags=payloads
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [name for name in archive.namelist() if name.startswith("xl/worksheets/")]
        assert sheets
        for name in sheets:
            xml = archive.read(name).decode()
            assert "<f>" not in xml
            assert "<f " not in xml

    wb = openpyxl.load_workbook(io.BytesIO(data))
    codes = wb["代码表"]
    assert codes["B2"].value == "Z1 " + payloads[0]  # starts with "Z": no prefix needed
    for row, payload in enumerate(payloads, start=2):
        cell = codes[f"C{row}"]
        assert cell.value == payload
        assert cell.data_type == "s"
        assert cell.quotePrefix


# -- round trip -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
def test_round_trip(kind: Kind, tmp_path: Path) -> None:
    minimal: dict[str, object] = {
        **valid_cells(kind, 4),
        "规划条目": "S3 安全预防控制体系",  # as the drop-down writes it
        "建议标签": "重大危险源，特殊作业",
        "所在省份": "内蒙古自治区",
        "行业领域": None,
        "联系电话": 13812345678,  # typed as a number
        "敏感程度": "internal",
    }
    for section in KINDS[kind].sections:
        if not section.required:
            minimal[SECTION_LABELS[kind][section.key]] = None
    path = make_file(tmp_path, kind, {3: valid_cells(kind, 3), 4: minimal})

    result = parse(path, kind)

    assert result.file_errors == []
    assert result.is_clean
    assert [row.number for row in result.ok_rows] == [3, 4]
    assert result.rows[0].values == valid_values(kind, 3)
    expected_minimal = {
        **valid_values(kind, 4),
        "plan_codes": ["S3"],
        "tag_names": ["重大危险源", "特殊作业"],
        "region_code": "150000",
        "sector": None,
        "contact_phone": "13812345678",
        "sensitivity": Sensitivity.INTERNAL,
    }
    for section in KINDS[kind].sections:
        if not section.required:
            expected_minimal["sections"][section.key] = ""
    assert result.rows[1].values == expected_minimal


@pytest.mark.parametrize("kind", list(Kind))
def test_edited_example_row_is_imported_and_valid(kind: Kind, tmp_path: Path) -> None:
    path = make_file(tmp_path, kind, {2: {"标题": "修改后的示例标题"}})
    result = parse(path, kind)
    assert result.is_clean
    assert [row.number for row in result.rows] == [2]
    assert result.rows[0].values["title"] == "修改后的示例标题"
    assert result.rows[0].values["plan_codes"] == ["G", "G.T1"]


@pytest.mark.parametrize("kind", list(Kind))
def test_untouched_example_row_is_skipped(kind: Kind, tmp_path: Path) -> None:
    path = make_file(tmp_path, kind, {3: valid_cells(kind, 3)})
    result = parse(path, kind)
    assert result.is_clean
    assert [row.number for row in result.rows] == [3]


def test_untouched_template_has_nothing_to_import(tmp_path: Path) -> None:
    path = make_file(tmp_path, Kind.PROBLEM, {})
    result = parse(path, Kind.PROBLEM)
    assert result.rows == []
    assert result.file_errors == ["表格中没有要导入的数据（未修改的示例行会被忽略）。"]
    assert not result.is_clean


def test_empty_rows_are_skipped(tmp_path: Path) -> None:
    kind = Kind.PROBLEM
    rows: dict[int, Cells] = {
        3: valid_cells(kind, 3),
        4: {"标题": "   ", "摘要": ""},
        6: valid_cells(kind, 6),
    }
    result = parse(make_file(tmp_path, kind, rows), kind)
    assert result.is_clean
    assert [row.number for row in result.rows] == [3, 6]


def test_sheet_without_template_extras_is_accepted(tmp_path: Path) -> None:
    """A sheet typed from scratch (no code sheet, no example) with the right header works."""
    kind = Kind.SUGGESTION
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "填报"
    ws.append(headers(kind))
    labels = [header.removesuffix(" *") for header in headers(kind)]
    ws.append([valid_cells(kind, 2)[label] for label in labels])
    path = tmp_path / "own.xlsx"
    wb.save(path)
    result = parse(path, kind)
    assert result.is_clean
    assert result.rows[0].values == valid_values(kind, 2)


# -- row errors -----------------------------------------------------------------------------------


def test_two_bad_rows_report_exactly_their_problems(tmp_path: Path) -> None:
    kind = Kind.EXPERIENCE
    rows: dict[int, Cells] = {number: valid_cells(kind, number) for number in range(3, 9)}
    rows[5] = {**rows[5], "联系电话": "12345"}
    rows[7] = {**rows[7], "规划条目": "S3、X9"}

    result = parse(make_file(tmp_path, kind, rows), kind)

    assert result.file_errors == []
    assert not result.is_clean
    assert [row.number for row in result.ok_rows] == [3, 4, 6, 8]
    assert [row.number for row in result.bad_rows] == [5, 7]
    errors = errors_by_row(result)
    assert len(errors[5]) == 1
    assert errors[5][0].startswith("第5行 联系电话：格式不正确（")
    assert errors[7] == ["第7行 规划条目：“X9”不存在"]


PHONE_MESSAGE = "格式不正确（请填写11位手机号如13812345678，或带区号的固定电话如010-12345678）"
SECTORS_TEXT = "化工（石化）、医药、危险化学品经营、油气、烟花爆竹、其他"
SENSITIVITIES_TEXT = "仅联合会内部使用 / 可报送应急管理部 / 可公开"


@pytest.mark.parametrize(
    ("label", "value", "expected"),
    [
        ("标题", "短标题", f"标题：至少{TITLE_MIN}个字（现有3个字）"),
        (
            "标题",
            "标" * (TITLE_MAX + 1),
            f"标题：不能超过{TITLE_MAX}个字（现有{TITLE_MAX + 1}个字）",
        ),
        ("标题", None, "标题：不能为空"),
        ("摘要", "  ", "摘要：不能为空"),
        (
            "摘要",
            "摘" * (SUMMARY_MAX + 1),
            f"摘要：不能超过{SUMMARY_MAX}个字（现有{SUMMARY_MAX + 1}个字）",
        ),
        ("规划条目", None, "规划条目：不能为空"),
        ("规划条目", "S3、X9、y1", "规划条目：“X9”、“Y1”不存在"),
        ("建议标签", "重大危险源、不存在的标签", "建议标签：标签“不存在的标签”不在词表中"),
        ("所在省份", "火星", "所在省份：“火星”不是省级行政区，请从下拉列表选择"),
        ("所在省份", None, "所在省份：不能为空"),
        (
            "行业领域",
            "农业",
            f"行业领域：“农业”不在可选范围内（{SECTORS_TEXT}）",
        ),
        ("联系人", None, "联系人：不能为空"),
        ("联系人", "名" * 31, "联系人：不能超过30个字（现有31个字）"),
        ("联系电话", "12345", f"联系电话：{PHONE_MESSAGE}"),
        ("联系电话", 1012345678, f"联系电话：{PHONE_MESSAGE}"),  # 010-… typed as a number
        (
            "敏感程度",
            "绝密",
            f"敏感程度：“绝密”不是可选值（{SENSITIVITIES_TEXT}）",
        ),
        ("问题描述", "太短了", "问题描述：至少20个字（现有3个字）"),
        ("问题描述", None, "问题描述：不能为空"),
        ("问题描述", "长" * 10_001, "问题描述：不能超过10000个字（现有10001个字）"),
    ],
)
def test_field_errors(label: str, value: object, expected: str, tmp_path: Path) -> None:
    kind = Kind.PROBLEM
    path = make_file(tmp_path, kind, {3: {**valid_cells(kind, 3), label: value}})
    result = parse(path, kind)
    assert result.file_errors == []
    assert errors_by_row(result) == {3: [f"第3行 {expected}"]}


def test_all_problems_of_a_row_are_reported_in_column_order(tmp_path: Path) -> None:
    kind = Kind.SUGGESTION
    cells = {**valid_cells(kind, 3), "标题": None, "所在省份": "火星", "联系电话": "123"}
    cells["建议内容"] = "太短"
    result = parse(make_file(tmp_path, kind, {3: cells}), kind)
    assert errors_by_row(result) == {
        3: [
            "第3行 标题：不能为空",
            "第3行 所在省份：“火星”不是省级行政区，请从下拉列表选择",
            f"第3行 联系电话：{PHONE_MESSAGE}",
            "第3行 建议内容：至少10个字（现有2个字）",
        ]
    }


def test_department_has_its_own_max_length(tmp_path: Path) -> None:
    kind = Kind.SUGGESTION
    path = make_file(tmp_path, kind, {3: {**valid_cells(kind, 3), "建议责任部门": "部" * 201}})
    assert errors_by_row(parse(path, kind)) == {
        3: ["第3行 建议责任部门：不能超过200个字（现有201个字）"]
    }


@pytest.mark.parametrize(
    ("label", "value", "key", "expected"),
    [
        ("联系电话", 13812345678, "contact_phone", "13812345678"),
        ("联系电话", 13812345678.0, "contact_phone", "13812345678"),
        ("联系电话", "010 - 1234 5678", "contact_phone", "010-12345678"),
        ("联系电话", "＋86 138 1234 5678", "contact_phone", "13812345678"),
        ("所在省份", "江苏省", "region_code", "320000"),
        ("所在省份", "广西", "region_code", "450000"),
        ("所在省份", "北京", "region_code", "110000"),
        ("所在省份", "新疆维吾尔自治区", "region_code", "650000"),
        ("所在省份", "香港", "region_code", "810000"),
        ("敏感程度", "可报送应急管理部", "sensitivity", Sensitivity.MINISTRY),
        ("敏感程度", "Public", "sensitivity", Sensitivity.PUBLIC),
        ("规划条目", "S3 安全预防控制体系、e1", "plan_codes", ["S3", "E1"]),
        ("规划条目", "S3 E1;S3", "plan_codes", ["S3", "E1"]),
        ("规划条目", "Ｓ３，G.T1\nR1 化工（石化）", "plan_codes", ["S3", "G.T1", "R1"]),
        ("建议标签", "重大危险源，特殊作业、重大危险源", "tag_names", ["重大危险源", "特殊作业"]),
        ("建议标签", None, "tag_names", []),
        ("行业领域", "化工(石化)", "sector", "化工（石化）"),
        ("行业领域", None, "sector", None),
        ("标题", "  控制\u200b字符\u202e与e\u0301  ", "title", "控制字符与é"),
        ("标题", "多个   空格\n换行", "title", "多个 空格 换行"),
        ("标题", datetime(2024, 5, 6, 7, 8), "title", "2024-05-06 07:08:00"),
        ("标题", 12345, "title", "12345"),
    ],
)
def test_cell_values_are_normalised(
    label: str, value: object, key: str, expected: object, tmp_path: Path
) -> None:
    kind = Kind.PROBLEM
    path = make_file(tmp_path, kind, {3: {**valid_cells(kind, 3), label: value}})
    result = parse(path, kind)
    assert result.is_clean, result
    assert result.rows[0].values[key] == expected


def test_long_texts_keep_their_line_breaks(tmp_path: Path) -> None:
    kind = Kind.PROBLEM
    text = "第一段：园区组织企业逐项排查。\n第二段：建立台账并限期整改。"
    path = make_file(tmp_path, kind, {3: {**valid_cells(kind, 3), "问题描述": f"\n{text}\t\n"}})
    assert parse(path, kind).rows[0].values["sections"]["description"] == text


def test_formula_cell_is_rejected(tmp_path: Path) -> None:
    kind = Kind.PROBLEM

    def add_formula(wb: Any) -> None:
        wb["填报"]["A3"] = '=HYPERLINK("http://x","y")'

    path = make_file(
        tmp_path, kind, {3: valid_cells(kind, 3), 4: valid_cells(kind, 4)}, edit=add_formula
    )
    with zipfile.ZipFile(path) as archive:  # the test file really holds a formula
        assert "<f>" in archive.read("xl/worksheets/sheet2.xml").decode()

    result = parse(path, kind)
    assert errors_by_row(result) == {3: ["第3行 标题：不能使用公式，请粘贴为数值"], 4: []}


def test_quoted_text_that_looks_like_a_formula_is_plain_text(tmp_path: Path) -> None:
    kind = Kind.PROBLEM

    def add_text(wb: Any) -> None:
        cell = wb["填报"]["A3"]
        cell.value = "=不是公式的标题"
        cell.data_type = "s"

    path = make_file(tmp_path, kind, {3: valid_cells(kind, 3)}, edit=add_text)
    result = parse(path, kind)
    assert result.is_clean
    assert result.rows[0].values["title"] == "=不是公式的标题"


# -- file errors ----------------------------------------------------------------------------------


def _delete_phone_column(wb: Any) -> None:
    wb["填报"].delete_cols(8)


def _rename_phone_column(wb: Any) -> None:
    wb["填报"]["H1"] = "电话号码"


def _swap_columns(wb: Any) -> None:
    ws = wb["填报"]
    ws["G1"], ws["H1"] = ws["H1"].value, ws["G1"].value


def _add_column(wb: Any) -> None:
    wb["填报"].cell(row=1, column=20, value="备注")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_delete_phone_column, "表头与模板不一致：缺少“联系电话”列。请下载最新模板。"),
        (_rename_phone_column, "表头与模板不一致：缺少“联系电话”列。请下载最新模板。"),
        (_swap_columns, "表头与模板不一致：“联系人”列的位置不对。请下载最新模板。"),
        (_add_column, "表头与模板不一致：多出“备注”列。请下载最新模板。"),
    ],
)
def test_header_mismatch(edit: Callable[[Any], None], message: str, tmp_path: Path) -> None:
    kind = Kind.PROBLEM
    result = parse(make_file(tmp_path, kind, {3: valid_cells(kind, 3)}, edit=edit), kind)
    assert result.file_errors == [message]
    assert result.rows == []


def test_header_without_asterisks_is_accepted(tmp_path: Path) -> None:
    def strip_marks(wb: Any) -> None:
        for cell in wb["填报"][1]:
            cell.value = str(cell.value).removesuffix(" *")

    kind = Kind.PROBLEM
    path = make_file(tmp_path, kind, {3: valid_cells(kind, 3)}, edit=strip_marks)
    assert parse(path, kind).is_clean


@pytest.mark.parametrize(
    ("source", "chosen"),
    [(Kind.PROBLEM, Kind.EXPERIENCE), (Kind.EXPERIENCE, Kind.SUGGESTION)],
)
def test_wrong_kind_template(source: Kind, chosen: Kind, tmp_path: Path) -> None:
    path = make_file(tmp_path, chosen, {3: valid_cells(source, 3)}, source=source)
    result = parse(path, chosen)
    assert result.rows == []
    assert len(result.file_errors) == 1
    assert result.file_errors[0].startswith(
        f"这是“{KIND_LABELS[source]}”模板，但您选择导入“{KIND_LABELS[chosen]}”"
    )


def test_unknown_kind_marker(tmp_path: Path) -> None:
    def mark(wb: Any) -> None:
        wb["代码表"]["A1"] = "kind=report"

    path = make_file(tmp_path, Kind.PROBLEM, {3: valid_cells(Kind.PROBLEM, 3)}, edit=mark)
    assert parse(path, Kind.PROBLEM).file_errors == ["无法识别模板类型。请下载最新模板。"]


def test_missing_data_sheet(tmp_path: Path) -> None:
    def rename(wb: Any) -> None:
        wb["填报"].title = "Sheet1"

    path = make_file(tmp_path, Kind.PROBLEM, {3: valid_cells(Kind.PROBLEM, 3)}, edit=rename)
    assert parse(path, Kind.PROBLEM).file_errors == ["找不到“填报”工作表。请使用下载的模板填写。"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"%PDF-1.7 not a spreadsheet",
        "标题,摘要\n".encode(),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    ],
)
def test_not_a_zip(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "upload"
    path.write_bytes(content)
    result = parse(path, Kind.PROBLEM)
    assert result.file_errors == ["“批量导入.xlsx”不是 .xlsx 文件。请使用下载的模板填写后上传。"]


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    result = parse(path, Kind.PROBLEM)
    assert result.file_errors == ["“批量导入.xlsx”不是 .xlsx 文件。请使用下载的模板填写后上传。"]


def test_corrupt_workbook(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
        archive.writestr("xl/workbook.xml", "not xml")
    result = parse(path, Kind.PROBLEM)
    assert len(result.file_errors) == 1
    assert "文件已损坏或不是有效的 .xlsx" in result.file_errors[0]


def test_macro_workbook_is_rejected(tmp_path: Path) -> None:
    path = make_file(tmp_path, Kind.PROBLEM, {3: valid_cells(Kind.PROBLEM, 3)})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\x00" * 16)
    result = parse(path, Kind.PROBLEM)
    assert len(result.file_errors) == 1
    assert "含有宏" in result.file_errors[0]


def test_zip_bomb_is_rejected_before_openpyxl_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []

    def forbidden(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("openpyxl must not open a zip bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", forbidden)
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<a/>" * (5 * 1024 * 1024))
    assert path.stat().st_size < 200 * 1024

    result = parse(path, Kind.PROBLEM)

    assert calls == []
    assert result.rows == []
    assert len(result.file_errors) == 1
    assert "压缩" in result.file_errors[0]


def test_file_over_size_limit(tmp_path: Path) -> None:
    path = make_file(tmp_path, Kind.PROBLEM, {3: valid_cells(Kind.PROBLEM, 3)})
    result = parse(path, Kind.PROBLEM, max_bytes=1024)
    assert len(result.file_errors) == 1
    assert "超过" in result.file_errors[0]


def test_missing_file(tmp_path: Path) -> None:
    result = parse(tmp_path / "gone.xlsx", Kind.PROBLEM)
    assert result.file_errors == ["无法读取“批量导入.xlsx”，请重新上传。"]


@pytest.mark.parametrize(("count", "clean"), [(3, True), (4, False)])
def test_row_limit(count: int, clean: bool, tmp_path: Path) -> None:
    kind = Kind.PROBLEM
    rows = {number: valid_cells(kind, number) for number in range(3, 3 + count)}
    result = parse(make_file(tmp_path, kind, rows), kind, max_rows=3)
    assert result.is_clean is clean
    if clean:
        assert len(result.rows) == count
    else:
        assert result.rows == []
        assert result.file_errors == ["数据超过 3 行，请分批导入（每次最多 3 行）。"]


def test_far_away_cell_stops_reading(tmp_path: Path) -> None:
    def far(wb: Any) -> None:
        wb["填报"].cell(row=1_000_000, column=1, value="x")

    kind = Kind.PROBLEM
    path = make_file(tmp_path, kind, {3: valid_cells(kind, 3)}, edit=far)
    started = time.perf_counter()
    result = parse(path, kind, max_rows=10)
    assert result.rows == []
    assert len(result.file_errors) == 1
    assert result.file_errors[0].startswith("表格行数过多：第10011行以后仍有内容或格式。")
    print(f"far-away cell rejected in {time.perf_counter() - started:.2f} s")


# -- size -----------------------------------------------------------------------------------------


def test_thousand_rows(tmp_path: Path) -> None:
    kind = Kind.EXPERIENCE
    rows = {number: valid_cells(kind, number) for number in range(2, 1002)}
    path = make_file(tmp_path, kind, rows)
    started = time.perf_counter()
    result = parse(path, kind)
    elapsed = time.perf_counter() - started
    print(f"1,000 rows parsed and validated in {elapsed:.2f} s")
    assert result.is_clean
    assert len(result.ok_rows) == 1000
    assert result.rows[-1].number == 1001
    assert result.rows[-1].values == valid_values(kind, 1001)


def test_wrong_declared_dimension_does_not_hide_rows(tmp_path: Path) -> None:
    """Rows past the sheet's declared <dimension> are still read (and so validated)."""
    kind = Kind.PROBLEM
    original = make_file(tmp_path, kind, {3: valid_cells(kind, 3), 4: valid_cells(kind, 4)})
    path = tmp_path / "lying.xlsx"
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet2.xml":
                # openpyxl writes '<dimension ref="A1:M4" />', or without the space through lxml.
                assert re.search(rb'<dimension ref="A1:M4" ?/>', data)
                data = data.replace(b'ref="A1:M4"', b'ref="A1:M3"')
            target.writestr(info, data)
    assert [row.number for row in parse(path, kind).rows] == [3, 4]
