"""The orphan-file sweeper (SECURITY.md row 41): files no row references, and only old ones."""

from __future__ import annotations

import io
import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask, has_request_context
from flask.testing import FlaskCliRunner
from freezegun import freeze_time
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback.extensions import db
from feedback.filing import uploads
from feedback.models import Attachment, AuditRecord, ImportBatch, Submission, utcnow
from tests.conftest import login
from tests.factories import PASSWORD, make_submission, make_user, plan_item, stored_attachment
from tests.filing.test_views import PDF, PDF_NAME, _form

DAY = 24 * 3600


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_file_left_by_a_crash_before_the_commit_goes_after_24_hours(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection between the file save and the commit, with no clean-up after it (the
    process died): no row, one file; the sweeper leaves it for 24 hours, then removes it."""
    client = app.test_client()
    user = make_user()
    plan_item("S3")
    login(client, user.email, PASSWORD)
    data = _form(client, "/submissions/new?kind=problem", attachments=[(io.BytesIO(PDF), PDF_NAME)])
    original = Session.commit

    def failing_commit(session: Session) -> None:
        if has_request_context():
            raise RuntimeError("killed while committing")
        original(session)

    monkeypatch.setattr(Session, "commit", failing_commit)
    monkeypatch.setattr(uploads, "remove_stored", lambda *_args: None)  # never got that far
    response = client.post(
        "/submissions/new/problem", data=data, content_type="multipart/form-data"
    )
    monkeypatch.undo()
    assert response.status_code == 500
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    folder = Path(app.config["UPLOAD_DIR"])
    (left,) = [p for p in folder.iterdir() if p.is_file()]
    assert left.read_bytes() == PDF

    started = utcnow()
    with freeze_time(started + timedelta(hours=23, minutes=59)):
        early = runner.invoke(args=["sweep-uploads"])
    assert early.exit_code == 0, early.output
    assert "已删除 0 个" in early.output and left.exists()
    with freeze_time(started + timedelta(hours=24, minutes=1)):
        late = runner.invoke(args=["sweep-uploads"])
    assert late.exit_code == 0, late.output
    assert "已删除 1 个" in late.output and not left.exists()
    (audit,) = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "upload_sweep").order_by(AuditRecord.id)
    ).all()[-1:]
    assert json.loads(audit.detail or "{}") == {"files": 1, "temporary": 0}


def test_the_sweeper_never_touches_referenced_young_or_foreign_files(
    app: Flask, runner: FlaskCliRunner
) -> None:
    author = make_user()
    draft = make_submission(author)
    kept = stored_attachment(draft, author, "现场照片.pdf")
    folder = Path(app.config["UPLOAD_DIR"])
    batch_file = "ab" * 16 + ".xlsx"
    (folder / batch_file).write_bytes(b"PK")
    db.session.add(
        ImportBatch(
            token="t" * 32,
            user_id=author.id,
            organisation_id=author.organisation_id,
            kind="problem",
            original_name="导入.xlsx",
            stored_name=batch_file,
        )
    )
    db.session.commit()
    orphan, young = "cd" * 16 + ".pdf", "ef" * 16 + ".png"
    temp = folder / ".tmp"
    temp.mkdir(mode=0o700)
    for name in (orphan, young, "README.txt"):
        (folder / name).write_bytes(b"x")
    (temp / "upload-abc.part").write_bytes(b"half an upload")
    (temp / "upload-new.part").write_bytes(b"an upload in flight")
    (folder / "exports").mkdir()
    for path in (folder / kept.stored_name, folder / batch_file, folder / orphan,
                 folder / "README.txt", temp / "upload-abc.part"):  # fmt: skip
        _age(path, 2 * DAY)
    _age(folder / young, DAY - 60)

    dry = runner.invoke(args=["sweep-uploads", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert (
        orphan in dry.output and "upload-abc.part" in dry.output and "试运行：有 2 个" in dry.output
    )
    assert (folder / orphan).exists()

    result = runner.invoke(args=["sweep-uploads"])
    assert result.exit_code == 0, result.output
    assert "已删除 2 个" in result.output
    assert _files(folder) == sorted(
        [kept.stored_name, batch_file, young, "README.txt", ".tmp/upload-new.part"]
    )
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 1
