"""Residual information (SECURITY.md row 40, 等保 剩余信息保护): what is deleted is gone."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from freezegun import freeze_time

from feedback.extensions import db
from feedback.models import Attachment
from tests.conftest import login, post_form
from tests.factories import PASSWORD, make_submission, make_user

MARKER = "RESIDUE-5f1c9e7a"
CHINESE_MARKER = "残留标记甲乙丙丁"


def _database_files(app: Flask) -> list[Path]:
    path = Path(db.engine.url.database or "")
    return [path, path.with_name(path.name + "-wal")]


def _holders(app: Flask, needle: bytes) -> list[str]:
    """The database, WAL and upload files whose bytes contain ``needle``."""
    uploads = Path(app.config["UPLOAD_DIR"])
    files = [p for p in _database_files(app) if p.exists()]
    files += [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []
    return [p.name for p in files if needle in p.read_bytes()]


def test_a_purged_draft_leaves_no_trace_in_the_database_wal_or_uploads(
    app: Flask, runner: FlaskCliRunner
) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the file-level check reads SQLite's database and WAL files")
    author = make_user()
    start = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    with freeze_time(start):
        draft = make_submission(
            author,
            title=f"{CHINESE_MARKER}园区检查 {MARKER}",
            summary=f"摘要 {MARKER}",
            sections={"description": f"{CHINESE_MARKER}：动火作业票证问题 {MARKER}"},
        )
        content = f"%PDF-1.4\n% {MARKER}\n%%EOF\n".encode()
        stored = f"{hashlib.md5(MARKER.encode()).hexdigest()}.pdf"  # noqa: S324 (a file name)
        folder = Path(app.config["UPLOAD_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / stored).write_bytes(content)
        db.session.add(
            Attachment(
                submission_id=draft.id,
                original_name=f"{MARKER}.pdf",
                stored_name=stored,
                media_type="application/pdf",
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                uploader_id=author.id,
            )
        )
        db.session.commit()
    # The check can fail: before the purge the marker is on disk.
    assert _holders(app, MARKER.encode()) != []
    assert _holders(app, CHINESE_MARKER.encode()) != []

    with freeze_time(start + timedelta(days=181)):
        result = runner.invoke(args=["purge-drafts"])
    assert result.exit_code == 0 and "已删除 1 份" in result.output, result.output
    db.session.commit()
    wal = _database_files(app)[1]
    assert not wal.exists() or wal.stat().st_size == 0  # wal_checkpoint(TRUNCATE) ran
    assert _holders(app, MARKER.encode()) == []
    assert _holders(app, CHINESE_MARKER.encode()) == []


def test_the_wal_checkpoint_follows_every_purge(app: Flask, runner: FlaskCliRunner) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("only SQLite keeps a WAL file")
    wal = _database_files(app)[1]
    for command in (["purge-drafts"], ["purge-sessions"], ["export-purge"]):
        make_user()  # a write, so that the WAL has something in it
        db.session.commit()
        assert wal.stat().st_size > 0
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
        assert wal.stat().st_size == 0, command


def test_logout_sends_clear_site_data(app: Flask) -> None:
    user = make_user()
    client = app.test_client()
    login(client, user.email, PASSWORD)
    response = post_form(client, "/auth/logout", {}, page="/")
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert client.get("/").status_code == 302  # and the session is over
    assert "Clear-Site-Data" not in client.get("/auth/login").headers


def test_no_page_or_script_keeps_anything_in_browser_storage() -> None:
    root = Path(__file__).resolve().parents[2]
    sources = [*root.glob("static/**/*.js"), *root.glob("templates/**/*.html")]
    assert len(sources) > 20  # the scan found the pages and scripts
    storing = [
        str(path.relative_to(root))
        for path in sources
        if any(
            api in path.read_text("utf-8")
            for api in ("localStorage", "sessionStorage", "indexedDB")
        )
    ]
    assert storing == []
