"""Check a ministry workbook with LibreOffice: it converts to PDF without error, and the printed
政策建议 sheet is pictured in ``docs/images/policy-sheet.png``.

Needs Debian's ``libreoffice-calc-nogui`` (or any ``soffice``) and ``poppler-utils``; neither is
needed by the application or ``make test``. Run with ``make check-workbook``; see
``docs/workbook-check.md`` for what it does and the last result.

The workbook is built the way the application builds one: a scratch SQLite database, accepted
submissions (an anonymous park, a formula-led title, a 2,000-character text), a consolidated
suggestion, a report frozen as version 1.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedback import create_app  # noqa: E402
from feedback.consolidation import services as consolidation  # noqa: E402
from feedback.extensions import db  # noqa: E402
from feedback.filing import services as filing  # noqa: E402
from feedback.models import OrgKind, ParkLevel, Role  # noqa: E402
from feedback.reports import services  # noqa: E402

IMAGE = ROOT / "docs" / "images" / "policy-sheet.png"
LONG = "部分老旧装置运行超过设计年限，改造资金缺口较大。" * 80


def _build(folder: Path) -> Path:
    from flask_migrate import upgrade

    from tests.factories import make_org, make_submission, make_user, plan_item, seed_taxonomy

    app = create_app(
        "testing",
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'check.sqlite3'}",
         "UPLOAD_DIR": str(folder / "uploads")},
    )  # fmt: skip
    with app.app_context(), app.test_request_context():
        upgrade()
        seed_taxonomy()
        reviewer = make_user(Role.REVIEWER)
        compiler = make_user(Role.COMPILER)
        parks = [
            make_org(name="江苏某精细化工园区", region_code="320500",
                     park_level=ParkLevel.PROVINCIAL),
            make_org(name="宁波石化经济技术开发区", region_code="330200",
                     park_level=ParkLevel.NATIONAL),
            make_org(OrgKind.ASSOCIATION, name="中国化学品安全协会", region_code="110000"),
        ]  # fmt: skip
        texts = [
            ("危化品运输车辆专用停车场严重不足", {"anonymous": True}),
            ('=HYPERLINK("http://evil.example","承包商动火作业票证不全")', {}),
            ("老旧装置安全改造资金缺口较大", {"sections": {"description": LONG}}),
        ]
        accepted = []
        for park, (title, extra) in zip(parks, texts, strict=True):
            submission = make_submission(make_user(org=park), submit=True, title=title,
                                         region_code=park.region_code, **extra)  # fmt: skip
            filing.decide(reviewer, submission, "start_review")
            filing.decide(reviewer, submission, "accept")
            accepted.append(submission)
        suggestion = consolidation.create(
            reviewer,
            consolidation.SuggestionInput(
                title="建议加快危险化学品运输车辆专用停车场建设",
                description="江苏、浙江多地化工园区反映危化品运输车辆缺少专用停车场，"
                "车辆沿路停放，一旦泄漏难以及时处置。",
                suggestion="建议交通运输部会同应急管理部制定危化品车辆专用停车场建设指南，"
                "将停车场纳入化工园区基础设施规划。",
                basis="《危险化学品安全法》；《化工园区安全风险排查治理导则》",
                department="交通运输部、应急管理部",
                plan_item_ids=[plan_item("E1").id],
                references=" ".join(s.reference or "" for s in accepted[:2]),
            ),
        )
        report = services.create(
            compiler,
            services.ReportInput(
                title="关于《“十四五”危险化学品安全生产规划方案》实施情况的汇总报告",
                period_label="2026年第四季度", period_start=date(2026, 10, 1),
                period_end=date(2026, 12, 31),
            ),
        )  # fmt: skip
        services.add_items(compiler, report, submissions=accepted, suggestions=[suggestion])
        edition = services.freeze(compiler, report)
        db.session.commit()
        out = folder / "report.xlsx"
        out.write_bytes(edition.workbook)
        return out


def main() -> int:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice or not shutil.which("pdftoppm"):
        print("需要 LibreOffice（soffice）和 poppler-utils（pdftoppm）。", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        workbook = _build(folder)
        result = subprocess.run(
            [soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{folder}/lo",
             "--convert-to", "pdf", "--outdir", str(folder), str(workbook)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        pdf = folder / "report.pdf"
        print(result.stdout.strip())
        if result.returncode != 0 or not pdf.is_file():
            print(f"LibreOffice 转换失败：{result.returncode} {result.stderr}", file=sys.stderr)
            return 1
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout  # fmt: skip
        pages = text.split("\f")
        page = next((n for n, t in enumerate(pages, start=1) if "政策建议汇总表" in t), None)
        if page is None:
            print("PDF 中找不到“政策建议汇总表”。", file=sys.stderr)
            return 1
        IMAGE.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile",
             str(pdf), str(IMAGE.with_suffix(""))],
            check=True,
        )  # fmt: skip
        print(f"PDF {len(pages) - 1} 页；政策建议在第 {page} 页，已保存 {IMAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
