"""Confirming a 1,000-row template import with tens of thousands of submissions present.

Run with ``.venv/bin/python -m bench.import_bench``. SQLite in a temporary folder by default,
PostgreSQL when ``FEEDBACK_BENCH_DATABASE_URL`` is set. ``FEEDBACK_BENCH_SUBMISSIONS`` sets the
load (default 30,000); the similarity index is rebuilt after seeding so each imported row meets
full LSH buckets, as in production. Times the upload (parse + validation) and the confirm
(1,000 drafts, events, similarity signatures and links, one transaction) through the web —
the answer of the confirm, and the time until the rows are written (the same when the request
writes them; later when a job does, ``IMPORT_JOB_FROM_ROWS``, overridden by
``FEEDBACK_BENCH_IMPORT_JOB_FROM_ROWS``) — and appends a section to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import func, select

from bench.common import add_section, logged_in_client, machine, make_app
from feedback.extensions import db
from feedback.models import SimilaritySignature, Submission
from feedback.review import similarity

SUBMISSIONS = int(os.environ.get("FEEDBACK_BENCH_SUBMISSIONS", "30000"))
ROWS = int(os.environ.get("FEEDBACK_BENCH_IMPORT_ROWS", "1000"))
TOPICS = (
    "承包商动火作业票证",
    "受限空间作业审批",
    "重大危险源在线监测",
    "可燃气体报警器校验",
    "双重预防机制平台",
    "安全仪表系统投用",
    "罐区防火堤完整性",
    "危化品运输车辆停车场",
)


def _row(n: int) -> dict[str, str]:
    topic = TOPICS[n % len(TOPICS)]
    return {
        "标题": f"第{n}家企业{topic}方面的问题",
        "摘要": f"专项检查发现的{topic}问题，第{n}条。",
        "规划条目": "S3",
        "所在省份": "江苏省",
        "行业领域": "化工（石化）",
        "联系人": "张工",
        "联系电话": "13812345678",
        "敏感程度": "可报送应急管理部",
        "问题描述": f"园区专项检查发现第{n}家企业{topic}记录不完整，现场执行与制度要求存在差距。",
    }


def main() -> None:
    """Seed, rebuild the index, then upload and confirm one import as a submitter."""
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp), "import")
        if os.environ.get("FEEDBACK_BENCH_IMPORT_JOB_FROM_ROWS"):
            app.config["IMPORT_JOB_FROM_ROWS"] = int(
                os.environ["FEEDBACK_BENCH_IMPORT_JOB_FROM_ROWS"]
            )
        with app.app_context():
            runner = app.test_cli_runner()
            assert runner.invoke(args=["init"]).exit_code == 0
            begin = time.perf_counter()
            out = runner.invoke(
                args=["seed-demo", "--seed", "1", "--submissions", str(SUBMISSIONS)]
            )
            seed_s = time.perf_counter() - begin
            submitter = re.search(r"submitter\s+(\S+@\S+)", out.output)
            password = re.search(r"密码（本次随机生成）：(\S+)", out.output)
            assert submitter and password, out.output
            begin = time.perf_counter()
            similarity.rebuild(db.session)
            db.session.commit()
            rebuild_s = time.perf_counter() - begin
            database = db.engine.dialect.name
            facts = machine(database)
        client = logged_in_client(app, submitter[1], password[1])
        template = client.get("/submissions/import/template/problem.xlsx")
        workbook = load_workbook(io.BytesIO(template.data))
        sheet = workbook["填报"]
        headers = [str(c.value).removesuffix(" *") for c in sheet[1]]
        sheet.delete_rows(2, sheet.max_row)
        for number in range(2, ROWS + 2):
            row = _row(number)
            for column, header in enumerate(headers, start=1):
                sheet.cell(row=number, column=column, value=row.get(header, ""))
        data = io.BytesIO()
        workbook.save(data)
        page = client.get("/submissions/import/").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token
        begin = time.perf_counter()
        upload = client.post(
            "/submissions/import/",
            data={
                "csrf_token": token[1],
                "kind": "problem",
                "file": (io.BytesIO(data.getvalue()), "bench.xlsx"),
            },
            content_type="multipart/form-data",
        )
        upload_s = time.perf_counter() - begin
        assert upload.status_code == 303, upload.get_data(as_text=True)[:2000]
        location = upload.headers["Location"]
        preview = client.get(location).get_data(as_text=True)
        assert f"（{ROWS} 份）" in preview, preview[:3000]
        missing = (
            select(func.count())
            .select_from(Submission)
            .outerjoin(SimilaritySignature)
            .where(SimilaritySignature.submission_id.is_(None))
        )
        begin = time.perf_counter()
        confirm = client.post(location + "/confirm", data={"csrf_token": token[1], "then": "draft"})
        confirm_s = time.perf_counter() - begin
        assert confirm.status_code == 303
        # A file of IMPORT_JOB_FROM_ROWS rows or more is written by a job: poll as the page does.
        while client.get(location + "/progress").get_json()["status"] in ("queued", "running"):
            time.sleep(0.05)
        written_s = time.perf_counter() - begin
        done = client.get(location).get_data(as_text=True)
        assert f"导入 {ROWS} 份材料" in done, done[:3000]
        with app.app_context():  # the similarity job the confirm queued (a thread here)
            while db.session.scalar(missing) and time.perf_counter() - begin < 3600:
                db.session.rollback()
                time.sleep(0.2)
            job_s = time.perf_counter() - begin - written_s
            db.session.rollback()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    mode = "job" if int(app.config["IMPORT_JOB_FROM_ROWS"]) <= ROWS else "request"
    print(f"upload {upload_s:.2f} s, confirm {confirm_s:.2f} s, written {written_s:.2f} s ({mode})")
    add_section(
        "\n".join(
            [
                f"## Template import confirm at load ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
                "`bench/import_bench.py`)",
                "",
                f"- Load: {SUBMISSIONS} submissions (`seed-demo`, {seed_s:.0f} s), "
                f"similarity index rebuilt ({rebuild_s:.0f} s).",
                f"- Machine: {facts}; database: {database}.",
                f"- {ROWS}-row problem template, through the web as a submitter: upload (parse "
                f"+ validation) {upload_s:.2f} s; confirm as drafts (one transaction, with "
                f"similarity left to a background job; written in the {mode}) answered in "
                f"{confirm_s:.2f} s, rows written {written_s:.2f} s after the click; the "
                "similarity job "
                f"(signatures and links of the {ROWS} new rows, fallback thread) finished "
                f"{job_s:.1f} s after the rows were written.",
            ]
        )
    )


if __name__ == "__main__":
    main()
