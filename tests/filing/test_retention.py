"""Purging old drafts on a frozen clock (SECURITY.md row 42): nobody's sent work goes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from freezegun import freeze_time
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.filing import services, workflow
from feedback.filing.retention import drafts_due_for_purge
from feedback.models import Attachment, AuditRecord, Event, Role, Status, Submission
from tests.factories import make_org, make_submission, make_user, stored_attachment

START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def _exists(submission_id: int) -> bool:
    return db.session.get(Submission, submission_id) is not None


def _upload(app: Flask, name: str) -> Path:
    return Path(app.config["UPLOAD_DIR"]) / name


def test_purge_drafts_deletes_old_unsent_drafts_with_their_files_only(
    app: Flask, runner: FlaskCliRunner
) -> None:
    author = make_user()
    with freeze_time(START):
        old = make_submission(author, title="半年没动过的草稿")
        old_file = stored_attachment(old, author, "现场照片.pdf").stored_name
        sent = make_submission(author, submit=True)
        touched = make_submission(author)
        other_org_old = make_submission(make_user())
        db.session.commit()
    with freeze_time(START + timedelta(days=100)):
        # An attachment added later is a change, though the text stayed the same.
        workflow.record_event(touched, author, "attachment_added", note="补充.pdf")
        fresh = make_submission(author)
        db.session.commit()
    ids = {"old": old.id, "sent": sent.id, "touched": touched.id, "fresh": fresh.id}

    with freeze_time(START + timedelta(days=179, hours=23)):
        result = runner.invoke(args=["purge-drafts"])
    assert result.exit_code == 0, result.output
    assert "已删除 0 份" in result.output and _exists(ids["old"])

    with freeze_time(START + timedelta(days=180, seconds=1)):
        result = runner.invoke(args=["purge-drafts"])
    assert result.exit_code == 0, result.output
    assert "已删除 2 份" in result.output and "2 个单位" in result.output
    db.session.expire_all()
    assert not _exists(ids["old"]) and not _exists(other_org_old.id)
    assert _exists(ids["sent"]) and _exists(ids["touched"]) and _exists(ids["fresh"])
    assert not _upload(app, old_file).exists()
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert db.session.scalar(select(func.count()).where(Event.submission_id == ids["old"])) == 0
    audits = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "draft_purge").order_by(AuditRecord.id)
    ).all()
    assert [(a.object_id, json.loads(a.detail or "{}")) for a in audits] == [
        (str(author.organisation_id), {"days": 180, "drafts": 1, "files": 1}),
        (str(other_org_old.organisation_id), {"days": 180, "drafts": 1, "files": 0}),
    ]


def test_a_draft_once_sent_to_the_approver_is_never_purged(
    app: Flask, runner: FlaskCliRunner
) -> None:
    org = make_org(requires_approval=True)
    author = make_user(org=org)
    approver = make_user(Role.ORG_APPROVER, org=org)
    with freeze_time(START):
        returned = make_submission(author)
        services.submit(author, returned)
        services.return_internally(approver, returned, "请补充整改时限。")
        db.session.commit()
    assert returned.status == Status.DRAFT and returned.submitted_at is None
    with freeze_time(START + timedelta(days=400)):
        result = runner.invoke(args=["purge-drafts"])
    assert "已删除 0 份" in result.output
    assert _exists(returned.id)


def test_dry_run_lists_and_deletes_nothing_and_days_is_an_option(
    app: Flask, runner: FlaskCliRunner
) -> None:
    author = make_user()
    with freeze_time(START):
        old = make_submission(author)
        name = stored_attachment(old, author, "记录.pdf").stored_name
        db.session.commit()
    with freeze_time(START + timedelta(days=31)):
        dry = runner.invoke(args=["purge-drafts", "--days", "30", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert old.reference in dry.output and "试运行：将删除 1 份" in dry.output
        assert "半年" not in dry.output and old.title not in dry.output  # no content shown
        assert _exists(old.id) and _upload(app, name).exists()
        assert "已删除 0 份" in runner.invoke(args=["purge-drafts"]).output  # 180 by default
        app.config["DRAFT_RETENTION_DAYS"] = 30
        assert "已删除 1 份" in runner.invoke(args=["purge-drafts"]).output
    db.session.expire_all()
    assert not _exists(old.id) and not _upload(app, name).exists()
    bad = runner.invoke(args=["purge-drafts", "--days", "0"])
    assert bad.exit_code != 0


def test_home_page_names_drafts_close_to_their_purge_date(app: Flask) -> None:
    author = make_user()
    with freeze_time(START):
        soon = make_submission(author, title="快要被清理的草稿")
        make_submission(author, title="已经报送的材料", submit=True)
    with freeze_time(START + timedelta(days=100)):
        make_submission(author, title="最近修改过的草稿")
    with freeze_time(START + timedelta(days=160)):
        warnings = drafts_due_for_purge(author.organisation_id)
        assert [(w.id, w.purge_on.isoformat()) for w in warnings] == [(soon.id, "2026-07-04")]
        from tests.conftest import login
        from tests.factories import PASSWORD

        client = app.test_client()
        login(client, author.email, PASSWORD)
        page = client.get("/").get_data(as_text=True)
    assert "快要被清理的草稿" in page and "2026年7月4日" in page
    assert "最近修改过的草稿" not in page and "已经报送的材料" not in page
