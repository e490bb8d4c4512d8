"""Bulk filing from the Excel template, through the web: preview first, all or nothing."""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.filing import imports
from feedback.models import ImportBatch, Status, Submission, utcnow
from tests.conftest import REDIS_TEST_URL, csrf_token, login
from tests.factories import PASSWORD, make_user, plan_item, seed_taxonomy


def _filled_template(client: FlaskClient, rows: list[dict[str, str]]) -> bytes:
    template = client.get("/submissions/import/template/problem.xlsx")
    assert template.status_code == 200
    assert "attachment" in template.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(template.data))
    sheet = workbook["填报"]
    headers = [str(c.value).removesuffix(" *") for c in sheet[1]]
    sheet.delete_rows(2, sheet.max_row)
    for number, row in enumerate(rows, start=2):
        for column, header in enumerate(headers, start=1):
            sheet.cell(row=number, column=column, value=row.get(header, ""))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _row(n: int, **overrides: str) -> dict[str, str]:
    row = {
        "标题": f"第{n}家企业承包商动火作业票证不全",
        "摘要": "专项检查发现的问题。",
        "规划条目": "S3",
        "建议标签": "特殊作业",
        "所在省份": "江苏省",
        "行业领域": "化工（石化）",
        "联系人": "张工",
        "联系电话": "13812345678",
        "敏感程度": "可报送应急管理部",
        "问题描述": "园区专项检查发现该企业承包商动火作业票证缺少气体分析记录和审批签字。",
    }
    row.update(overrides)
    return row


def _upload(client: FlaskClient, data: bytes) -> str:
    token = csrf_token(client, "/submissions/import/")
    response = client.post(
        "/submissions/import/",
        data={
            "csrf_token": token,
            "kind": "problem",
            "file": (io.BytesIO(data), "园区企业问题汇总.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return str(response.headers["Location"])


def test_two_bad_rows_are_shown_and_nothing_is_imported_until_fixed(client: FlaskClient) -> None:
    seed_taxonomy()
    user = make_user()
    login(client, user.email, PASSWORD)
    rows = [_row(n) for n in range(1, 6)]
    rows[3]["联系电话"] = "12345"  # Excel row 5
    rows[4]["规划条目"] = "X9"  # Excel row 6
    preview = client.get(_upload(client, _filled_template(client, rows)))
    body = preview.get_data(as_text=True)
    assert "第5行 联系电话" in body and "第6行 规划条目" in body
    assert "导入为草稿" not in body
    token = csrf_token(client, "/submissions/import/")
    batch_token = re.search(r"/submissions/import/([0-9a-f]{32})", preview.request.path)
    assert batch_token
    forced = client.post(
        f"/submissions/import/{batch_token[1]}/confirm", data={"csrf_token": token, "then": "draft"}
    )
    assert forced.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0

    rows[3]["联系电话"] = "0512-68681234"
    rows[4]["规划条目"] = "E1"
    location = _upload(client, _filled_template(client, rows))
    assert "导入为草稿（5 份）" in client.get(location).get_data(as_text=True)
    client.post(location + "/confirm", data={"csrf_token": token, "then": "draft"})
    submissions = db.session.scalars(select(Submission).order_by(Submission.id)).all()
    assert len(submissions) == 5 and {s.status for s in submissions} == {Status.DRAFT}
    assert submissions[3].contact_phone == "0512-68681234"
    again = client.post(location + "/confirm", data={"csrf_token": token, "then": "draft"})
    assert again.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 5


def test_import_and_submit(client: FlaskClient) -> None:
    seed_taxonomy()
    user = make_user()
    login(client, user.email, PASSWORD)
    location = _upload(client, _filled_template(client, [_row(1), _row(2)]))
    token = csrf_token(client, "/submissions/import/")
    client.post(location + "/confirm", data={"csrf_token": token, "then": "submit"})
    statuses = db.session.scalars(select(Submission.status)).all()
    assert statuses == [Status.SUBMITTED, Status.SUBMITTED]


def test_someone_elses_batch_is_404(client: FlaskClient) -> None:
    seed_taxonomy()
    owner = make_user()
    login(client, owner.email, PASSWORD)
    location = _upload(client, _filled_template(client, [_row(1)]))
    intruder = make_user()
    other = client.application.test_client()
    login(other, intruder.email, PASSWORD)
    assert other.get(location).status_code == 404
    token = csrf_token(other, "/submissions/import/")
    confirm = other.post(location + "/confirm", data={"csrf_token": token, "then": "draft"})
    assert confirm.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


def test_not_an_xlsx_is_refused_clearly(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    token = csrf_token(client, "/submissions/import/")
    response = client.post(
        "/submissions/import/",
        data={
            "csrf_token": token,
            "kind": "problem",
            "file": (io.BytesIO(b"%PDF-1.4 not a sheet"), "汇总.xlsx"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "不是有效" in response.get_data(as_text=True) or "不符" in response.get_data(
        as_text=True
    )


def test_similarity_of_imported_rows_is_left_to_a_background_job(
    client: FlaskClient, job_queue: Any
) -> None:
    """The confirm stays fast at scale: signatures and links of the new rows are computed by
    one job after the commit, not per row inside the request."""
    from feedback.models import SimilarityLink, SimilaritySignature
    from tests.test_jobs import work

    seed_taxonomy()
    user = make_user()
    login(client, user.email, PASSWORD)
    location = _upload(client, _filled_template(client, [_row(1), _row(2), _row(3)]))
    token = csrf_token(client, "/submissions/import/")
    client.post(location + "/confirm", data={"csrf_token": token, "then": "submit"})
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 3
    assert db.session.scalar(select(func.count()).select_from(SimilaritySignature)) == 0
    assert job_queue.count == 1

    work(job_queue)

    assert db.session.scalar(select(func.count()).select_from(SimilaritySignature)) == 3
    assert db.session.scalar(select(func.count()).select_from(SimilarityLink)) == 3  # 3 pairs


def test_without_a_queue_the_similarity_job_runs_in_a_thread(client: FlaskClient) -> None:
    from feedback.models import SimilaritySignature

    seed_taxonomy()
    user = make_user()
    login(client, user.email, PASSWORD)
    location = _upload(client, _filled_template(client, [_row(1), _row(2)]))
    token = csrf_token(client, "/submissions/import/")
    client.post(location + "/confirm", data={"csrf_token": token, "then": "draft"})
    signatures = select(func.count()).select_from(SimilaritySignature)
    deadline = time.monotonic() + 20
    while db.session.scalar(signatures) != 2 and time.monotonic() < deadline:
        db.session.commit()
        time.sleep(0.1)
    assert db.session.scalar(signatures) == 2


def _batch(location: str) -> ImportBatch:
    db.session.expire_all()
    token = location.rstrip("/").rsplit("/", 1)[1]
    return db.session.scalars(select(ImportBatch).where(ImportBatch.token == token)).one()


def _count() -> int | None:
    return db.session.scalar(select(func.count()).select_from(Submission))


def test_a_large_import_runs_as_one_job_with_progress_and_imports_once(
    client: FlaskClient, job_queue: Any
) -> None:
    from tests.test_jobs import work

    client.application.config["IMPORT_JOB_FROM_ROWS"] = 3
    seed_taxonomy()
    user = make_user()
    login(client, user.email, PASSWORD)
    location = _upload(client, _filled_template(client, [_row(1), _row(2), _row(3)]))
    token = csrf_token(client, "/submissions/import/")
    confirm = client.post(location + "/confirm", data={"csrf_token": token, "then": "submit"})
    assert confirm.status_code == 303 and confirm.headers["Location"].endswith(location)
    assert _count() == 0 and job_queue.count == 1
    page = client.get(location).get_data(as_text=True)
    assert "正在导入 3 份材料" in page and "/progress" in page and "导入为草稿" not in page
    assert client.get(location + "/progress").get_json()["status"] == "queued"
    # A second confirm (another tab, a double click) finds the batch taken: no second job.
    again = client.post(location + "/confirm", data={"csrf_token": token, "then": "draft"})
    assert again.status_code == 303 and job_queue.count == 1

    work(job_queue)  # the import, then the similarity job it queues

    batch = _batch(location)
    assert batch.status == "imported" and batch.submit_rows and batch.error is None
    statuses = db.session.scalars(select(Submission.status)).all()
    assert statuses == [Status.SUBMITTED] * 3
    assert client.get(location + "/progress").get_json() == {
        "status": "done",
        "progress": 100,
        "rows_done": 3,
        "rows_total": 3,
    }
    assert "已从“园区企业问题汇总.xlsx”导入 3 份材料" in client.get(location).get_data(as_text=True)
    imports.run_import(batch.id)  # delivered twice: the second delivery does nothing
    assert _count() == 3


def test_a_failed_import_job_saves_nothing_says_why_and_can_be_confirmed_again(
    app: Flask, client: FlaskClient, job_queue: Any
) -> None:
    from tests.test_jobs import work

    app.config["IMPORT_JOB_FROM_ROWS"] = 1
    seed_taxonomy()
    user = make_user()
    login(client, user.email, PASSWORD)
    location = _upload(client, _filled_template(client, [_row(1), _row(2)]))
    token = csrf_token(client, "/submissions/import/")
    app.config["JOB_QUEUE_URL"] = "redis://127.0.0.1:1/8"  # nothing listens on port 1
    client.post(location + "/confirm", data={"csrf_token": token, "then": "draft"})
    assert _batch(location).status == "failed"
    page = client.get(location).get_data(as_text=True)
    assert "后台任务队列暂时不可用，未导入任何材料" in page and "导入为草稿（2 份）" in page

    app.config["JOB_QUEUE_URL"] = REDIS_TEST_URL
    client.post(location + "/confirm", data={"csrf_token": token, "then": "draft"})
    plan_item("S3").active = False  # the vocabulary changed before the job ran
    db.session.commit()
    work(job_queue)
    batch = _batch(location)
    assert batch.status == "failed" and _count() == 0
    assert "文件中仍有问题，未导入任何材料" in (batch.error or "")
    assert client.get(location + "/progress").get_json()["status"] == "failed"

    plan_item("S3").active = True
    db.session.commit()
    client.post(location + "/confirm", data={"csrf_token": token, "then": "draft"})
    work(job_queue)
    assert _batch(location).status == "imported" and _count() == 2


def test_an_import_job_whose_process_died_shows_as_interrupted(
    app: Flask, client: FlaskClient
) -> None:
    seed_taxonomy()
    user = make_user()
    login(client, user.email, PASSWORD)
    location = _upload(client, _filled_template(client, [_row(1)]))
    batch = _batch(location)
    batch.status, batch.rows_total = "running", 1
    batch.heartbeat_at = utcnow() - timedelta(seconds=30)
    db.session.commit()
    assert "正在导入 1 份材料" in client.get(location).get_data(as_text=True)  # still alive
    batch.heartbeat_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    page = client.get(location).get_data(as_text=True)
    assert "导入被中断" in page and "导入为草稿（1 份）" in page
    assert _batch(location).status == "failed" and _count() == 0
