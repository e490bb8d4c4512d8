"""The workbook-writing layer: safe cells, sheet names, the report workbook, raw exports.

Every workbook is read back with openpyxl and, where it matters, unzipped: the promises are
about the file, not about the objects that made it.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import shutil
import subprocess
import tracemalloc
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import openpyxl
import pytest
from freezegun import freeze_time

from feedback.reports import xlsx
from feedback.reports.xlsx import (
    CELL_MAX,
    CONTINUATION_MARK,
    FORMULA_TRIGGERS,
    REPORT_SHEETS,
    CellValue,
    CountTable,
    Experience,
    ExportColumn,
    Problem,
    ReportData,
    Source,
    Suggestion,
    excel_text,
    join_cell_text,
    needs_quote_prefix,
    official_date,
    report_bytes,
    set_text,
    sheet_title,
    split_cell_text,
    write_export,
)

GENERATED_AT = datetime(2026, 11, 28, 9, 30, 0)
TITLE = '关于《"十四五"危险化学品安全生产规划方案》实施情况的汇总报告（2026年第四季度）'

# Text a spreadsheet may run as a formula, now or after an edit or a CSV round trip.
TRIGGER_LED = [
    "=1+2",
    '=HYPERLINK("http://example.com","点击")',
    "=cmd|' /C calc'!A0",
    "+8613812345678",
    "-5",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    "\n=1",
    "＝1+2",
    "＋1",
    "－1",
    "＠SUM(1)",
    "  =1+2",
    "\u3000=1",
    "\u00a0@SUM(1)",
    " \t+1",
    "=",  # openpyxl keeps a lone "=" as text; still a trigger for a spreadsheet
]
PLAIN = ["正常文本", "a=b", "1+1", "HX-2026-000001", " 前导空格", "（续）不是续行"]


def _zip_parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _sheet_xml(parts: dict[str, bytes]) -> list[bytes]:
    return [body for name, body in parts.items() if name.startswith("xl/worksheets/sheet")]


def _load(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data))


def _export(columns: Sequence[str | ExportColumn], rows: Sequence[Sequence[CellValue]]) -> bytes:
    buffer = io.BytesIO()
    write_export(buffer, columns, rows)
    return buffer.getvalue()


def _report_data(**overrides: Any) -> ReportData:
    values: dict[str, Any] = {
        "title": TITLE,
        "organisation": "中国石油和化学工业联合会",
        "report_date": date(2026, 11, 28),
        "version": 2,
        "generated_at": GENERATED_AT,
        "period": "2026年10月1日至2026年12月31日",
        "document_number": "石化联〔2026〕12号",
        "suggestions": [
            Suggestion(
                title="建议将中小化工企业安全技术服务纳入财政补助",
                problem="71%的中小化工企业没有注册安全工程师。",
                suggestion="设立专项资金，对购买安全诊断服务按费用的50%给予补助。",
                basis="《“十四五”危险化学品安全生产规划方案》",
                departments=["应急管理部", "财政部"],
                plan_items=["S5 从业人员培训体系", "E3 企业安全改造工程"],
                organisations=[
                    "某省级化工园区（江苏省）",
                    "某省级化工园区（江苏省）",
                    "中国氯碱工业协会",
                ],
                references=["HX-2026-000012", "HX-2026-000031", "HX-2026-000040"],
            )
        ],
        "problems": [
            Problem(
                problem="部分企业可燃有毒气体报警仪长期未校验",
                cause="本地校验机构少、费用较高。",
                impact="泄漏不能及时发现。",
                organisation="某国家级化工园区（山东省）",
                province="山东省",
                plan_items=["S2 隐患排查治理体系"],
                tags=["报警管理", "重大危险源"],
                references=["HX-2026-000007"],
            )
        ],
        "experiences": [
            Experience(
                title="化工园区推行特殊作业电子票证闭环管理",
                practice="园区统一建设特殊作业电子票证系统。",
                outcome="特殊作业违章行为同比下降63%。",
                replicability="适用于已建成智能化管控平台的化工园区。",
                organisation="南京江北新材料科技园",
                contact="张三",
                references=["HX-2026-000003"],
            )
        ],
        "sources": [
            Source("HX-2026-000003", "南京江北新材料科技园", date(2026, 10, 9), "已报送"),
            Source("HX-2026-000007", "某国家级化工园区（山东省）", date(2026, 10, 12), "已采纳"),
        ],
        "statistics": [
            CountTable(
                "按材料类型和规划条目统计",
                "规划条目",
                ["政策建议", "发现问题", "典型经验"],
                [("S2 隐患排查治理体系", [0, 1, 0]), ("S5 从业人员培训体系", [1, 0, 1])],
            ),
            CountTable("按省份统计", "省份", ["材料数"], [(f"省份{i}", [i]) for i in range(1, 12)]),
            CountTable("按单位类型统计", "单位类型", ["材料数"], [("化工园区", [3])]),
        ],
        "notes": ["本报告中匿名单位以单位类型和所在省份表示。"],
    }
    values.update(overrides)
    return ReportData(**values)


# -- cell text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TRIGGER_LED)
def test_trigger_led_text_is_text_with_quote_prefix_in_an_export(text: str) -> None:
    data = _export(["编号", "内容"], [["HX-1", text]])
    parts = _zip_parts(data)
    assert all(b"<f>" not in body and b"<f " not in body for body in _sheet_xml(parts))
    assert b'quotePrefix="1"' in parts["xl/styles.xml"]
    cell = _load(data).active["B2"]
    assert cell.data_type == "s"
    assert cell.quotePrefix is True
    assert cell.value == excel_text(text)
    assert cell.value == text.replace("\r", "\n")  # the value itself is not prefixed


@pytest.mark.parametrize("text", TRIGGER_LED)
def test_trigger_led_text_is_text_with_quote_prefix_in_the_report(text: str) -> None:
    suggestion = _report_data().suggestions[0]
    data = report_bytes(
        _report_data(
            suggestions=[
                Suggestion(
                    title=text,
                    problem=text,
                    suggestion="建议",
                    basis="",
                    departments=[text],
                    plan_items=[],
                    organisations=list(suggestion.organisations),
                    references=[],
                )
            ]
        )
    )
    assert all(b"<f>" not in body and b"<f " not in body for body in _sheet_xml(_zip_parts(data)))
    ws = _load(data)["政策建议"]
    for coordinate in ("B4", "C4", "F4"):
        assert ws[coordinate].data_type == "s"
        assert ws[coordinate].quotePrefix is True, coordinate
        assert ws[coordinate].value == excel_text(text)
    assert ws["D4"].quotePrefix is False


@pytest.mark.parametrize("text", PLAIN)
def test_plain_text_has_no_quote_prefix(text: str) -> None:
    assert not needs_quote_prefix(text)
    cell = _load(_export(["内容"], [[text]])).active["A2"]
    assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", False)


def test_illegal_characters_are_removed_instead_of_aborting() -> None:
    text = "危\x00险\x08化\x0b学\x0c品\x1f安\ud800全\udfff生\ufffe产\uffff\t保留\n换行"
    assert excel_text(text) == "危险化学品安全生产\t保留\n换行"
    data = _export(["内容"], [[text]])
    assert _load(data).active["A2"].value == "危险化学品安全生产\t保留\n换行"
    report = report_bytes(_report_data(title="报告\x07标题", organisation="联合会\x1b"))
    guide = _load(report)["说明"]
    assert guide["A1"].value == "报告标题"
    assert guide["B3"].value == "联合会"


def test_set_text_refuses_overlong_text_instead_of_truncating() -> None:
    cell = openpyxl.Workbook().active["A1"]
    set_text(cell, "字" * CELL_MAX)
    assert len(cell.value) == CELL_MAX
    with pytest.raises(ValueError, match="split_cell_text"):
        set_text(cell, "字" * (CELL_MAX + 1))


def test_split_cell_text_keeps_every_character() -> None:
    text = "".join(chr(0x4E00 + i % 2000) for i in range(100_000))
    pieces = split_cell_text(text)
    assert len(pieces) == 4
    assert len(pieces[0]) == CELL_MAX
    assert all(piece.startswith(CONTINUATION_MARK) for piece in pieces[1:])
    assert all(len(piece) <= CELL_MAX for piece in pieces)
    assert join_cell_text(pieces) == text
    assert split_cell_text("短文本") == ["短文本"]


def test_split_cell_text_counts_utf16_units_as_excel_does() -> None:
    # Characters beyond the BMP (CJK Extension B here) take two units each in Excel.
    text = "𠀀" * 20_000
    pieces = split_cell_text(text)
    assert len(pieces) == 2
    assert all(len(piece.encode("utf-16-le")) // 2 <= CELL_MAX for piece in pieces)
    assert join_cell_text(pieces) == text


def test_join_cell_text_refuses_unmarked_pieces() -> None:
    with pytest.raises(ValueError, match="（续）"):
        join_cell_text(["第一段", "第二段"])


def test_long_text_is_continued_in_an_export() -> None:
    text = "".join(chr(0x4E00 + i % 500) for i in range(40_000))
    buffer = io.BytesIO()
    summary = write_export(
        buffer, ["编号", "内容", "状态"], [["HX-1", text, "已采纳"], ["HX-2", "短", "x"]]
    )
    assert (summary.records, summary.rows, summary.continued_cells) == (2, 3, 1)
    ws = _load(buffer.getvalue()).active
    assert ws.max_row == 4
    assert [ws["A2"].value, ws["A3"].value, ws["C3"].value] == ["HX-1", None, None]
    assert ws["B3"].value.startswith(CONTINUATION_MARK)
    assert join_cell_text([ws["B2"].value, ws["B3"].value]) == text
    assert ws["A4"].value == "HX-2"
    assert ws.auto_filter.ref == "A1:C4"


def test_long_text_is_continued_in_the_report() -> None:
    text = "做法" * 20_000
    experience = _report_data().experiences[0]
    data = report_bytes(
        _report_data(
            experiences=[
                Experience(
                    experience.title,
                    text,
                    "成效",
                    "价值",
                    experience.organisation,
                    "",
                    ["HX-1"],
                ),
                experience,
            ]
        )
    )
    ws = _load(data)["典型经验"]
    assert [ws["A4"].value, ws["A5"].value, ws["A6"].value] == [1, None, 2]  # 序号 continuous
    assert join_cell_text([ws["C4"].value, ws["C5"].value]) == text
    assert ws.row_dimensions[4].height == 409  # Excel's highest row; the text is all there
    assert ws.auto_filter.ref == "A3:H6"


def _random_text(rng: random.Random) -> str:
    alphabet = (
        [chr(c) for c in range(0x20)]
        + ["\ud800", "\udfff", "\ufffe", "\uffff", "\u3000", "\u00a0", "𠀀", "😀"]
        + sorted(FORMULA_TRIGGERS)
        + list("安全生产危险化学品'\"<>&|!abc 123")
    )
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))


def test_random_text_never_aborts_and_reads_back_as_cleaned() -> None:
    # A seeded stand-in for the Hypothesis test SECURITY.md asks for (Hypothesis is not a
    # dependency): control characters, surrogates, triggers, quotes and non-BMP characters.
    rng = random.Random(5)
    texts = [_random_text(rng) for _ in range(400)]
    ws = _load(_export(["编号", "内容"], [[str(n), text] for n, text in enumerate(texts)])).active
    for row, text in enumerate(texts, start=2):
        cell = ws.cell(row=row, column=2)
        assert (cell.value or "") == excel_text(text), repr(text)
        assert cell.quotePrefix is needs_quote_prefix(excel_text(text))
        assert cell.value is None or cell.data_type == "s"


def test_export_refuses_rows_longer_than_the_columns() -> None:
    from openpyxl.worksheet._writer import ALL_TEMP_FILES

    before = list(ALL_TEMP_FILES)
    with pytest.raises(ValueError, match="row 2 has 3 values for 2 columns"):
        write_export(io.BytesIO(), ["a", "b"], [["1", "2"], ["1", "2", "3"]])
    # The failed sheet's temporary file is gone now, not at interpreter exit.
    leftover = list(ALL_TEMP_FILES)
    assert leftover == before


def test_values_are_typed() -> None:
    row: list[CellValue] = [
        42,
        2.5,
        date(2026, 11, 28),
        datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
        time(9, 30),
        True,
        float("nan"),
        None,
    ]
    ws = _load(_export([f"列{i}" for i in range(len(row))], [row])).active
    cells = ws[2]
    assert [cells[0].value, cells[1].value] == [42, 2.5]
    assert cells[0].data_type == "n"
    assert cells[2].value == datetime(2026, 11, 28)
    assert cells[2].is_date and cells[2].number_format == "yyyy-mm-dd"
    assert cells[3].value == datetime(2026, 11, 28, 16, 0)  # shown in Beijing time
    assert cells[4].value == time(9, 30)
    assert [cells[5].value, cells[6].value] == ["是", "nan"]
    assert len(cells) == 7 or cells[7].value is None


# -- names and dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        ("政策建议", (), "政策建议"),
        ("a[b]c:d*e?f/g\\h", (), "a_b_c_d_e_f_g_h"),
        ("'引号'", (), "引号"),
        ("History", (), "History_"),
        ("history", (), "history_"),
        ("", (), "Sheet"),
        ("  ", (), "Sheet"),
        ("''", (), "Sheet"),
        ("\x00\x01", (), "Sheet"),
        ("第一行\n第二行", (), "第一行 第二行"),
        ("统计", ("统计",), "统计 (2)"),
        ("Sheet", ("sheet", "SHEET (2)"), "Sheet (3)"),
        (
            "关于《“十四五”危险化学品安全生产规划方案》实施情况的汇总报告附表",
            (),
            "关于《“十四五”危险化学品安全生产规划方案》实施情况的汇总报告",
        ),
        ("x" * 40, ("x" * 31,), "x" * 27 + " (2)"),
        ("abcdefghijklmnopqrstuvwxyz1234'5", (), "abcdefghijklmnopqrstuvwxyz1234"),
        ("𠀀" * 20, (), "𠀀" * 15),
    ],
)
def test_sheet_title(name: str, taken: tuple[str, ...], expected: str) -> None:
    title = sheet_title(name, taken)
    assert title == expected
    assert len(title.encode("utf-16-le")) // 2 <= 31
    # openpyxl accepts it as is (it would rename a clash or refuse a bad name).
    wb = openpyxl.Workbook()
    wb.active.title = title
    assert wb.active.title == title


def test_export_sheet_name_is_made_valid() -> None:
    buffer = io.BytesIO()
    write_export(buffer, ["a"], [["b"]], sheet="2026/11:导出[全部]")
    assert _load(buffer.getvalue()).sheetnames == ["2026_11_导出_全部_"]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 28), "2026年11月28日"),
        (date(2022, 3, 10), "2022年3月10日"),
        (date(2027, 1, 1), "2027年1月1日"),
    ],
)
def test_official_date(day: date, expected: str) -> None:
    assert official_date(day) == expected


# -- the report workbook ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> bytes:
    return report_bytes(_report_data())


def test_report_sheets_and_headers(report: bytes) -> None:
    wb = _load(report)
    assert wb.sheetnames == list(REPORT_SHEETS)
    headers = {name: [cell.value for cell in wb[name][3]] for name in REPORT_SHEETS[2:]}
    assert headers["政策建议"] == [
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
    ]
    assert headers["发现问题"][:4] == ["序号", "问题", "原因", "影响"]
    assert headers["典型经验"][-2:] == ["联系人", "来源编号"]
    assert headers["来源清单"] == ["序号", "编号", "单位", "日期", "状态"]
    suggestions = wb["政策建议"]
    assert suggestions["H4"].value == "某省级化工园区（江苏省）、中国氯碱工业协会"
    assert suggestions["I4"].value == 3
    assert suggestions["J4"].value == "HX-2026-000012、HX-2026-000031、HX-2026-000040"
    sources = wb["来源清单"]
    assert sources["D5"].value == datetime(2026, 10, 12)
    assert sources["D5"].number_format == 'yyyy"年"m"月"d"日"'


def test_report_guide_sheet(report: bytes) -> None:
    ws = _load(report)["说明"]
    assert ws["A1"].value == TITLE
    assert "A1:C1" in {str(cells) for cells in ws.merged_cells.ranges}
    texts = [cell.value for row in ws.iter_rows() for cell in row if cell.value is not None]
    for expected in ("2026年11月28日", "第2版", "石化联〔2026〕12号", "中国石油和化学工业联合会"):
        assert expected in texts
    assert ws["A1"].font.name == "宋体" and ws["A1"].font.b


def test_report_table_formatting(report: bytes) -> None:
    wb = _load(report)
    for name in REPORT_SHEETS[2:]:
        ws = wb[name]
        width = ws.max_column
        assert f"A1:{chr(64 + width)}1" in {str(cells) for cells in ws.merged_cells.ranges}
        assert ws.freeze_panes == "A4"
        assert ws.auto_filter.ref == f"A3:{chr(64 + width)}{ws.max_row}"
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.paperSize == 9  # A4
        assert ws.page_setup.fitToWidth == 1
        assert ws.page_setup.fitToHeight == 0
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True
        assert ws.print_title_rows == "$3:$3"
        assert ws.oddFooter.center.text == "第 &P 页 共 &N 页"
        header, body = ws["B3"], ws["B4"]
        assert header.font.name == "黑体"
        assert header.fill.fgColor.rgb == "00D9D9D9"
        assert header.border.bottom.style == "thin"
        assert body.font.name == "仿宋"
        assert body.alignment.wrap_text is True
        assert body.border.left.style == "thin"
        widths = [ws.column_dimensions[chr(65 + i)].width for i in range(width)]
        assert all(6 <= value <= 50 for value in widths), (name, widths)
    # Widths come from the content, CJK counted double: 来源清单 fits the page as it is.
    sources = wb["来源清单"]
    assert sources.column_dimensions["B"].width == len("HX-2026-000003") + 2
    assert sources.column_dimensions["C"].width == 2 * len("某国家级化工园区（山东省）") + 2
    # 政策建议 does not: its widest columns are narrowed to one width that fits A4 landscape
    # near 100%, and its rows are made tall enough for the wrapped text (LibreOffice and WPS
    # do not fit rows to wrapped text by themselves).
    suggestions = wb["政策建议"]
    widths = [suggestions.column_dimensions[chr(65 + i)].width for i in range(10)]
    assert widths[0] == 8  # 序号 and the filter button
    assert sum(widths) <= 140
    assert 12 <= widths[1] < 2 * 21 + 2  # a 21-character title, narrowed
    heights = suggestions.row_dimensions
    assert heights[4].height >= 3 * 14.5
    assert heights[3].height < heights[4].height


def test_report_statistics_and_charts(report: bytes) -> None:
    parts = _zip_parts(report)
    charts = sorted(name for name in parts if name.startswith("xl/charts/chart"))
    assert len(charts) == 3
    first = parts[charts[0]].decode()
    assert "<barChart>" in first
    # The chart draws the table's cells, not a copy of the numbers.
    assert re.search(r"<f>'?统计'?!\$B\$5:\$B\$6</f>", first), first
    ws = _load(report)["统计"]
    assert len(ws._charts) == 3
    cells = [[cell.value for cell in row] for row in ws.iter_rows(min_row=4, max_row=7)]
    assert cells[0] == ["规划条目", "政策建议", "发现问题", "典型经验", "合计"]
    assert cells[1] == ["S2 隐患排查治理体系", 0, 1, 0, 1]
    assert cells[3] == ["合计", 1, 1, 1, 3]  # totals are numbers, not formulas


def test_report_is_byte_identical_for_the_same_data() -> None:
    # Written at different wall-clock times: nothing in the file may depend on "now".
    with freeze_time("2026-11-28 10:00:00"):
        first = report_bytes(_report_data())
    with freeze_time("2027-03-01 23:59:58"):
        second = report_bytes(_report_data())
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        stamps = {info.date_time for info in archive.infolist()}
    assert stamps == {(2026, 11, 28, 9, 30, 0)}
    assert b"2026-11-28T09:30:00Z" in _zip_parts(first)["docProps/core.xml"]
    later = report_bytes(_report_data(generated_at=datetime(2026, 11, 29, 9, 30)))
    assert later != first


def test_report_writes_to_a_path(tmp_path: Path, report: bytes) -> None:
    path = tmp_path / "报告.xlsx"
    xlsx.write_report(path, _report_data())
    assert path.read_bytes() == report


def test_empty_report_is_valid() -> None:
    data = report_bytes(
        _report_data(suggestions=[], problems=[], experiences=[], sources=[], statistics=[])
    )
    wb = _load(data)
    assert wb.sheetnames == list(REPORT_SHEETS)
    assert wb["政策建议"].auto_filter.ref == "A3:J3"


# -- package structure ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["report", "export"])
def test_package_is_well_formed_utf8_xml(kind: str, report: bytes) -> None:
    data = report if kind == "report" else _export(["内容"], [["危险化学品安全"], ["=1"]])
    parts = _zip_parts(data)
    assert "[Content_Types].xml" in parts
    for name, body in parts.items():
        if name.endswith((".xml", ".rels")):
            SafeET.fromstring(body)  # raises on malformed XML (or entities)
    sheets = b"".join(_sheet_xml(parts))
    # Chinese as UTF-8, never as character references (lxml's default, PERFORMANCE.md §1):
    # this holds with lxml installed too (checked by running this file with lxml on the path).
    assert "危险化学品".encode() in sheets or "政策建议".encode() in sheets
    # (openpyxl's fixed theme part has Japanese font names written as references.)
    escaped = [name for name, body in parts.items() if b"&#" in body]
    assert escaped == ["xl/theme/theme1.xml"]
    assert b"<f>" not in sheets


def _soffice(tmp_path: Path, source: Path, target: str) -> Path:
    result = subprocess.run(
        ["soffice", "--headless", "--convert-to", target, "--outdir", str(tmp_path), str(source)],
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    converted = source.with_suffix("." + target.split(":")[0])
    assert converted.stat().st_size > 0, result.stderr
    return converted


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_libreoffice_converts_the_report(tmp_path: Path, report: bytes) -> None:
    source = tmp_path / "report.xlsx"
    source.write_bytes(report)
    _soffice(tmp_path, source, "pdf")


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_libreoffice_reads_trigger_led_text_as_text(tmp_path: Path) -> None:
    source = tmp_path / "export.xlsx"
    texts = ["=1+2", "+1+2", "-1+2", "@SUM(1)", "＝1+2"]
    source.write_bytes(_export(["编号", "内容"], [[str(n), text] for n, text in enumerate(texts)]))
    # The first sheet as UTF-8 CSV: a cell LibreOffice took for a formula would read 3.
    csv = _soffice(tmp_path, source, "csv:Text - txt - csv (StarCalc):44,34,76")
    lines = csv.read_text(encoding="utf-8").splitlines()
    assert [line.split(",", 1)[1] for line in lines[1:]] == texts


# -- raw export ----------------------------------------------------------------------------------


def _rows(count: int, text_length: int = 20) -> Iterator[list[CellValue]]:
    for number in range(count):
        yield [
            f"HX-2026-{number:06d}",
            number,
            number / 4,
            date(2026, 1 + number % 12, 1 + number % 28),
            "=恶意公式" if number % 7 == 0 else "安全" * (text_length // 2),
            None if number % 5 == 0 else "江苏省",
        ]


def test_export_of_1000_rows_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    headers: list[str | ExportColumn] = ["编号", "序号", "数值", ExportColumn("日期", width=14)]
    headers += ["内容", "省份"]
    summary = write_export(path, headers, _rows(1000))
    assert (summary.records, summary.rows) == (1000, 1000)
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb.active
    # Write-only sheets declare no dimension, so read-only rows end at their last value.
    read = [row + (None,) * (6 - len(row)) for row in ws.iter_rows(values_only=True)]
    wb.close()
    assert list(read[0]) == ["编号", "序号", "数值", "日期", "内容", "省份"]
    expected = [
        tuple(datetime.combine(v, time()) if isinstance(v, date) else v for v in row)
        for row in _rows(1000)
    ]
    assert read[1:] == expected
    ws = openpyxl.load_workbook(path).active
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:F1001"
    assert ws.print_title_rows == "$1:$1"
    assert ws.page_setup.orientation == "landscape"
    assert ws["A1"].font.name == "黑体" and ws["A1"].fill.fgColor.rgb == "00D9D9D9"
    assert ws.column_dimensions["D"].width == 14
    assert ws["E2"].quotePrefix is True and ws["E3"].quotePrefix is False


def test_export_reports_progress_while_streaming() -> None:
    seen: list[int] = []
    interleaved: list[tuple[int, int]] = []

    def rows() -> Iterator[list[CellValue]]:
        for number, row in enumerate(_rows(2_500)):
            interleaved.append((number, len(seen)))
            yield row

    write_export(io.BytesIO(), ["a", "b", "c", "d", "e", "f"], rows(), progress=seen.append)
    assert seen == [1000, 2000, 2500]
    # Rows are pulled while earlier ones are written: progress was reported before the last
    # row was read, so the rows were never all held at once.
    assert interleaved[-1] == (2_499, 2)


def _peak_bytes(path: Path, rows: int) -> int:
    tracemalloc.start()
    try:
        write_export(path, ["a", "b", "c", "d", "e", "f"], _rows(rows, text_length=400))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_memory_stays_flat(tmp_path: Path) -> None:
    # Normal mode holds every cell: 8,000 rows would need ~8× the memory of 1,000. Streaming
    # keeps the peak the same. Written to a file: an in-memory output would grow with the rows.
    small = _peak_bytes(tmp_path / "small.xlsx", 1_000)
    large = _peak_bytes(tmp_path / "large.xlsx", 8_000)
    assert large < small * 1.5 + 2_000_000, (small, large)
