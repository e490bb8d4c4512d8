"""Raw exports: chosen columns, formula safety, CSV, background jobs, the command line."""

from __future__ import annotations

import hashlib
import io
import re
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from feedback.extensions import db
from feedback.models import AuditRecord, ExportJob, Role, Submission, User
from feedback.reports import exports
from tests.conftest import login, post_form
from tests.factories import PASSWORD, make_submission, make_user

EVIL = '=HYPERLINK("http://evil.example","点此")'


def _staff(client: FlaskClient) -> User:
    user = make_user(Role.REVIEWER)
    login(client, user.email, PASSWORD)
    return user


def _export(client: FlaskClient, **form: object) -> bytes:
    response = post_form(client, "/exports/new", form, page="/exports/new")
    assert response.status_code == 200, response.status_code
    return bytes(response.data)


def test_xlsx_export_has_the_chosen_columns_and_no_formula(client: FlaskClient) -> None:
    author = make_user()
    make_submission(author, submit=True, title=EVIL)
    make_submission(author, submit=True, title="普通的问题材料标题")
    make_submission(author, title="草稿不导出的材料")
    # Older data may hold control characters: they must not abort the export.
    db.session.execute(update(Submission).where(Submission.title == "普通的问题材料标题")
                       .values(summary="含有\x07响铃和\x1b转义的摘要"))  # fmt: skip
    db.session.commit()
    _staff(client)
    content = _export(client, format="xlsx", columns=["reference", "title", "summary"])
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    assert not re.search(rb"<f[ >]", sheet)
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == ["编号", "标题", "摘要"]
    assert len(rows) == 3  # the draft is not there
    [evil] = [row for row in ws.iter_rows() if row[1].value == EVIL]
    assert evil[1].data_type == "s" and evil[1].quotePrefix
    assert "含有响铃和转义的摘要" in [r[2] for r in rows]


def test_csv_export_is_utf8_with_bom_and_defused(client: FlaskClient) -> None:
    make_submission(make_user(), submit=True, title=EVIL)
    _staff(client)
    content = _export(client, format="csv", columns=["title", "org_kind"])
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    assert text.splitlines()[0] == "标题,单位类型"
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text


def test_export_follows_the_filter_and_is_audited(client: FlaskClient) -> None:
    from feedback.filing.kinds import Kind

    author = make_user()
    make_submission(author, submit=True, title="一个发现问题材料")
    make_submission(
        author,
        submit=True,
        title="一条典型经验材料",
        kind=Kind.EXPERIENCE,
        sections={"practice": "园区建立承包商黑名单制度，违章即禁入，作业票证全部电子化管理。",
                  "outcome": "特殊作业违章下降六成以上。"},
    )  # fmt: skip
    _staff(client)
    content = _export(client, format="csv", kind="experience", columns=["title"])
    assert content.decode("utf-8-sig").split() == ["标题", "一条典型经验材料"]
    [entry] = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "export")).all()
    assert entry.detail and "kind=experience" in entry.detail


@pytest.mark.parametrize("role", [Role.SUBMITTER, Role.ORG_APPROVER, Role.ADMIN, Role.AUDITOR])
def test_only_staff_export(app: Flask, role: Role) -> None:
    client = app.test_client()
    login(client, make_user(role).email, PASSWORD)
    assert client.get("/exports/new").status_code == 403
    assert client.get("/exports/").status_code == 403


def test_large_exports_run_in_the_background(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, app: Flask
) -> None:
    monkeypatch.setattr(exports, "DIRECT_LIMIT", 2)
    monkeypatch.setattr(exports, "BATCH", 2)
    author = make_user()
    for n in range(5):
        make_submission(author, submit=True, title=f"后台导出的第{n}份材料")
    owner = _staff(client)
    response = post_form(client, "/exports/new", {"format": "xlsx"}, page="/exports/new")
    assert response.status_code == 303
    url = response.headers["Location"]
    job_id = int(url.rsplit("/", 1)[1])
    deadline = time.monotonic() + 20
    state: dict[str, object] = {}
    while time.monotonic() < deadline:
        state = client.get(f"/exports/{job_id}/progress").get_json()
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert state["status"] == "done", state
    download = client.get(f"/exports/{job_id}/download")
    content = download.data
    download.close()
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    assert ws.max_row == 6
    db.session.expire_all()
    job = db.session.get_one(ExportJob, job_id)
    assert hashlib.sha256(content).hexdigest() == job.sha256
    assert job.user_id == owner.id
    # Someone else's job is not found.
    other = app.test_client()
    login(other, make_user(Role.REVIEWER).email, PASSWORD)
    assert other.get(f"/exports/{job_id}/download").status_code == 404
    assert other.get(f"/exports/{job_id}/progress").status_code == 404
    assert f"/exports/{job_id}" not in other.get("/exports/").get_data(as_text=True)


def test_command_line_export_and_report(app: Flask, tmp_path: Path) -> None:
    make_submission(make_user(), submit=True, title=EVIL)
    db.session.commit()
    runner = app.test_cli_runner()
    out = tmp_path / "all.csv"
    result = runner.invoke(args=["export-submissions", "--out", str(out), "--status", "submitted"])
    assert result.exit_code == 0, result.output
    assert "'=HYPERLINK" in out.read_text(encoding="utf-8-sig")
    result = runner.invoke(args=["export-submissions", "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code == 1 and ".xlsx" in result.output
    result = runner.invoke(args=["export-submissions", "--out", str(out), "--kind", "poem"])
    assert result.exit_code == 1
    result = runner.invoke(args=["build-report", "--id", "99", "--out", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 1 and "99" in result.output
    assert not (tmp_path / "r.xlsx").exists()


def test_export_purge_command_deletes_expired_files_only(app: Flask) -> None:
    """Expired export files leave the disk; a live one stays; the job rows stay; audited."""
    from datetime import timedelta

    from feedback.models import ExportStatus, utcnow

    owner = make_user(Role.REVIEWER)
    folder = exports.export_dir(app)
    now = utcnow()
    jobs = {}
    for name, expires in (("old", now - timedelta(hours=1)), ("live", now + timedelta(days=6))):
        (folder / f"{name}.xlsx").write_bytes(b"PK")
        job = ExportJob(user_id=owner.id, file_format="xlsx", query="", columns=[], rows_total=1,
                        status=ExportStatus.DONE, stored_name=f"{name}.xlsx", finished_at=now,
                        expires_at=expires)  # fmt: skip
        db.session.add(job)
        jobs[name] = job
    db.session.commit()
    ids = {name: job.id for name, job in jobs.items()}

    result = app.test_cli_runner().invoke(args=["export-purge"])

    assert result.exit_code == 0, result.output
    assert "1" in result.output
    assert not (folder / "old.xlsx").exists()
    assert (folder / "live.xlsx").exists()
    db.session.expire_all()
    assert db.session.get_one(ExportJob, ids["old"]).stored_name is None
    assert db.session.get_one(ExportJob, ids["live"]).stored_name == "live.xlsx"
    event = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "export_purge")
    ).one()
    assert '"files": 1' in (event.detail or "")
