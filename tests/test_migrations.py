"""The migrations build exactly the schema the models describe, on every database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from feedback import search
from feedback.extensions import db
from feedback.models.base import Base


def test_single_head(app: Flask) -> None:
    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_models_match_migrated_schema(app: Flask) -> None:
    with db.engine.connect() as connection:
        # The search index is raw SQL per database, deliberately outside the models.
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": search.include_name}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrading_keeps_child_rows(tmp_path: object) -> None:
    """Batch mode recreates tables on SQLite: no cascade may delete children on the way."""
    from pathlib import Path

    from flask_migrate import upgrade
    from sqlalchemy import text

    from feedback import create_app

    folder = Path(str(tmp_path))
    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'm.sqlite3'}",
            "UPLOAD_DIR": str(folder / "up"),
        },
    )
    with app.app_context():
        upgrade(revision="b97b032335a5")
        statements = [
            "INSERT INTO organisation (id, name, kind, uscc_check_overridden, requires_approval,"
            " active, created_at, updated_at) VALUES (1, '园区', 'park', 0, 0, 1, '2026-01-01',"
            " '2026-01-01')",
            "INSERT INTO user (id, organisation_id, email, name, password_hash,"
            " must_change_password, password_changed_at, failed_logins, session_version, active,"
            " created_at) VALUES (1, 1, 'a@b.cn', '张工', 'x', 0, '2026-01-01', 0, 1, 1,"
            " '2026-01-01')",
            "INSERT INTO submission (id, reference, organisation_id, author_id, kind, status,"
            " title, summary, sections_json, contact_name, contact_phone, sensitivity, anonymous,"
            " idempotency_key, revision, late, version, created_at, updated_at) VALUES (1,"
            " 'FK-2026-000001', 1, 1, 'problem', 'draft', '标题', '', '{}', '', '', 'ministry',"
            " 0, 'k', 0, 0, 1, '2026-01-01', '2026-01-01')",
            "INSERT INTO submission_event (submission_id, at, actor_id, action)"
            " VALUES (1, '2026-01-01', 1, 'created')",
        ]
        for statement in statements:
            db.session.execute(text(statement))
        db.session.commit()
        upgrade()
        events = db.session.execute(text("SELECT count(*) FROM submission_event")).scalar()
        db.session.remove()
        db.engine.dispose()
    assert events == 1


def test_upgrade_chains_existing_audit_records(tmp_path: object) -> None:
    """Records written before the hash chain get one, in id order, and verify."""
    from pathlib import Path

    from flask_migrate import upgrade
    from sqlalchemy import text

    from feedback import create_app
    from feedback.audit import chain

    folder = Path(str(tmp_path))
    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'a.sqlite3'}",
            "UPLOAD_DIR": str(folder / "up"),
        },
    )
    with app.app_context():
        upgrade(revision="4d5e6f7a8b05")
        for n, at in enumerate(("2026-01-01 08:00:00", "2026-01-02 09:30:00.250000", None)):
            db.session.execute(
                text(
                    "INSERT INTO audit_record (at, actor_email, action, outcome, detail)"
                    " VALUES (:at, :email, :action, 'success', :detail)"
                ),
                {
                    "at": at or "2026-01-03 10:00:00",
                    "email": f"张{n}@example.cn",
                    "action": f"action{n}",
                    "detail": '{"名称": "园区"}' if n == 1 else None,
                },
            )
        db.session.commit()
        upgrade()
        result = chain.verify(db.session)
        prev_hashes = db.session.scalars(
            text("SELECT prev_hash FROM audit_record ORDER BY id")
        ).all()
        db.session.remove()
        db.engine.dispose()
    assert result.ok and result.count == 3
    assert prev_hashes[0] == chain.GENESIS
