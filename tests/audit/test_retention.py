"""Retention: six months at least; the purge leaves an anchor and a verifiable chain."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from feedback import create_app
from feedback.audit import chain
from feedback.config import ConfigError
from feedback.extensions import db
from feedback.models import AuditAnchor, AuditRecord, utcnow
from tests.audit.helpers import add_record


@pytest.fixture
def short_retention(app: Flask) -> Flask:
    app.config["AUDIT_RETENTION_DAYS"] = 180  # the floor of 184 days still applies
    return app


def _purge(runner: FlaskCliRunner, days_ago: int) -> object:
    before = (utcnow() - timedelta(days=days_ago)).date().isoformat()
    return runner.invoke(args=["audit-purge", "--before", before])


def test_purge_deletes_past_184_days_keeps_the_rest_and_the_chain(
    short_retention: Flask, runner: FlaskCliRunner
) -> None:
    for days in (400, 300, 185):
        add_record("old", days_ago=days)
    kept = [add_record("kept", days_ago=days).id for days in (183, 10, 0)]
    last_purged_hash = db.session.scalars(
        select(AuditRecord.hash).where(AuditRecord.action == "old").order_by(AuditRecord.id.desc())
    ).first()

    result = _purge(runner, 184)

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "已清理 3 条" in result.output  # type: ignore[attr-defined]
    rows = list(db.session.scalars(select(AuditRecord).order_by(AuditRecord.id)))
    assert [r.id for r in rows][:3] == kept
    anchor = db.session.scalars(select(AuditAnchor)).one()
    assert anchor.last_hash == last_purged_hash and anchor.purged_count == 3
    assert rows[0].prev_hash == anchor.last_hash
    purge_row = rows[-1]
    assert purge_row.action == "audit_purge" and '"purged": 3' in (purge_row.detail or "")
    verification = chain.verify(db.session)
    assert verification.ok and verification.count == 4
    assert runner.invoke(args=["audit-verify"]).exit_code == 0


def test_purge_of_the_whole_trail_continues_from_the_anchor(
    short_retention: Flask, runner: FlaskCliRunner
) -> None:
    add_record("old", days_ago=300)
    assert _purge(runner, 200).exit_code == 0  # type: ignore[attr-defined]
    rows = list(db.session.scalars(select(AuditRecord)))
    assert [r.action for r in rows] == ["audit_purge"]
    assert chain.verify(db.session).ok


@pytest.mark.parametrize(("retention", "days_ago"), [(180, 183), (365, 300)])
def test_purge_younger_than_retention_is_refused(
    app: Flask, runner: FlaskCliRunner, retention: int, days_ago: int
) -> None:
    app.config["AUDIT_RETENTION_DAYS"] = retention
    add_record("old", days_ago=days_ago + 30)
    result = _purge(runner, days_ago)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert f"至少保留 {max(retention, 184)} 天" in result.output  # type: ignore[attr-defined]
    assert db.session.scalar(select(func.count()).select_from(AuditRecord)) == 1


def test_database_refuses_deleting_young_rows_even_with_an_anchor(app: Flask) -> None:
    young = add_record("young", days_ago=100)
    old = add_record("old", days_ago=200)  # after the young one: a forged anchor covers both
    db.session.add(
        AuditAnchor(
            purged_before=utcnow(),
            purged_count=2,
            last_id=old.id,
            last_at=old.at,
            last_hash=old.hash,
        )
    )
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("DELETE FROM audit_record WHERE id = :id"), {"id": young.id})
    db.session.rollback()
    # The old row, covered by an anchor, is the only kind that can go.
    db.session.execute(text("DELETE FROM audit_record WHERE id = :id"), {"id": old.id})
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(AuditRecord)) == 1


def test_database_refuses_deleting_old_rows_without_an_anchor(app: Flask) -> None:
    old = add_record("old", days_ago=400)
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("DELETE FROM audit_record WHERE id = :id"), {"id": old.id})
    db.session.rollback()


@pytest.mark.parametrize(("days", "starts"), [(179, False), (180, True), (365, True)])
def test_retention_under_180_days_refuses_to_start(tmp_path: Path, days: int, starts: bool) -> None:
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        "AUDIT_RETENTION_DAYS": days,
    }
    if starts:
        assert create_app("testing", config).config["AUDIT_RETENTION_DAYS"] == days
    else:
        with pytest.raises(ConfigError, match="至少保留 180 天"):
            create_app("testing", config)
