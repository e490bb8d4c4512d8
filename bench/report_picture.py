"""A picture of the printed 政策建议 sheet, as LibreOffice prints the report workbook.

Run with ``.venv/bin/python -m bench.report_picture`` on a machine with LibreOffice (``soffice``)
and poppler (``pdftoppm``, ``pdftotext``). Builds a sample report with
:func:`feedback.reports.xlsx.write_report`, converts it to PDF headless (which also checks that
LibreOffice opens it) and writes the first printed page of 政策建议 to
``bench/report_suggestions.png``. The fonts are whatever the machine has: without 仿宋 and 黑体
LibreOffice substitutes Noto CJK, so the picture shows the layout, not the final typography.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import date, datetime
from pathlib import Path

from feedback.reports.xlsx import CountTable, ReportData, Source, Suggestion, write_report

PICTURE = Path(__file__).with_name("report_suggestions.png")
HEADING = "政策建议汇总表"

_SUGGESTIONS = (
    (
        "建议将中小化工企业安全技术服务纳入财政补助",
        "对本省156家中小化工企业的调查显示，71%的企业没有注册安全工程师，多数企业无力承担"
        "第三方安全诊断费用，隐患排查质量不高。",
        "中央和地方财政设立专项资金，对中小化工企业购买安全诊断、培训等技术服务按费用的50%"
        "给予补助，并将补助与隐患整改结果挂钩。",
        "《“十四五”危险化学品安全生产规划方案》关于中小企业安全技术服务的要求",
        ("应急管理部", "财政部"),
        ("S5 从业人员培训体系", "E3 企业安全改造工程"),
    ),
    (
        "建议统一化工园区特殊作业电子票证数据标准",
        "各园区自建特殊作业电子票证系统，数据格式不一，企业跨园区经营须重复录入，"
        "监管部门难以汇总分析。",
        "由应急管理部组织制定特殊作业电子票证数据接口标准，纳入化工园区安全风险智能化管控平台"
        "建设指南。",
        "《化工园区安全风险智能化管控平台建设指南（试行）》",
        ("应急管理部", "工业和信息化部"),
        ("E1 化工园区安全提质工程", "E5 “工业互联网+危化安全生产”工程"),
    ),
    (
        "建议明确老旧装置安全评估和改造的资金渠道",
        "部分投用超过20年的装置设备老化、自动化水平低，企业改造意愿强但资金不足，"
        "地方缺少配套政策。",
        "将老旧装置安全改造纳入中央预算内投资支持范围，对完成评估并按期改造的企业给予贴息。",
        "应急管理部关于老旧装置安全风险评估的工作部署",
        ("国家发展和改革委员会", "应急管理部"),
        ("R1 化工（石化）", "E3 企业安全改造工程"),
    ),
)


def _data() -> ReportData:
    suggestions = [
        Suggestion(
            title=f"{title}（{n}）" if n > 3 else title,
            problem=problem,
            suggestion=suggestion,
            basis=basis,
            departments=departments,
            plan_items=plan_items,
            organisations=["某省级化工园区（江苏省）", "中国氯碱工业协会", "某企业（山东省）"][
                : 1 + n % 3
            ],
            references=[f"HX-2026-{n * 17:06d}", f"HX-2026-{n * 31:06d}"],
        )
        for n, (title, problem, suggestion, basis, departments, plan_items) in enumerate(
            _SUGGESTIONS * 4, start=1
        )
    ]
    sources = [
        Source(f"HX-2026-{n * 17:06d}", "某省级化工园区（江苏省）", date(2026, 10, n), "已报送")
        for n in range(1, 13)
    ]
    return ReportData(
        title='关于《"十四五"危险化学品安全生产规划方案》实施情况的汇总报告（2026年第四季度）',
        organisation="中国石油和化学工业联合会",
        report_date=date(2026, 11, 28),
        version=1,
        generated_at=datetime(2026, 11, 28, 9, 0),
        suggestions=suggestions,
        sources=sources,
        statistics=[
            CountTable("按规划条目统计", "规划条目", ["政策建议"], [("E3 企业安全改造工程", [8])])
        ],
    )


def main() -> None:
    """Build, convert and picture the report."""
    soffice, pdftoppm = shutil.which("soffice"), shutil.which("pdftoppm")
    pdftotext = shutil.which("pdftotext")
    if not (soffice and pdftoppm and pdftotext):
        raise SystemExit("needs soffice, pdftoppm and pdftotext")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        workbook = folder / "report.xlsx"
        write_report(workbook, _data())
        subprocess.run(
            [soffice, "--headless", "--convert-to", "pdf", "--outdir", tmp, str(workbook)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        pdf = folder / "report.pdf"
        page = 1
        while True:
            text = subprocess.run(
                [pdftotext, "-f", str(page), "-l", str(page), str(pdf), "-"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            if HEADING in text:
                break
            page += 1
        stem = folder / "page"
        pages = ["-f", str(page), "-l", str(page)]
        subprocess.run(
            [pdftoppm, "-r", "80", "-png", "-singlefile", *pages, str(pdf), str(stem)], check=True
        )
        shutil.copyfile(stem.with_suffix(".png"), PICTURE)
    print(f"page {page} → {PICTURE}")


if __name__ == "__main__":
    main()
