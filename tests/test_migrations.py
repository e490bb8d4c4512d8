"""The migrations build exactly the schema the models describe, on every database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection

from feedback import search
from feedback.extensions import db
from feedback.models.base import Base
from tests.conftest import BACKENDS, PG_URL


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


def _schema(connection: Connection) -> dict[str, Any]:
    """Everything a migration can create, read back from the database in a comparable form."""
    inspector = inspect(connection)
    tables: dict[str, Any] = {}
    # alembic_version stays (empty) at the base: it is Alembic's bookkeeping, not the schema.
    for name in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        tables[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(name)
            ],
            "pk": inspector.get_pk_constraint(name)["constrained_columns"],
            "fks": sorted(
                (fk["name"] or "", tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(name)
            ),
            "indexes": sorted(
                (ix["name"] or "", tuple(str(c) for c in ix["column_names"]), bool(ix["unique"]))
                for ix in inspector.get_indexes(name)
            ),
            "uniques": sorted(
                (uq["name"] or "", tuple(uq["column_names"]))
                for uq in inspector.get_unique_constraints(name)
            ),
        }
    if connection.dialect.name == "sqlite":
        # Triggers and the search index's virtual tables, which the inspector does not describe.
        others = connection.execute(
            text("SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'view')")
        ).all()
    else:
        others = connection.execute(
            text(
                "SELECT 'trigger', tgname, pg_get_triggerdef(oid) FROM pg_trigger"
                " WHERE NOT tgisinternal UNION ALL"
                " SELECT 'function', proname, pg_get_functiondef(p.oid) FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            )
        ).all()
    return {"tables": tables, "others": sorted(tuple(row) for row in others)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_migration_downgrades_to_the_schema_before_it(backend: str, tmp_path: Path) -> None:
    """Up one revision at a time to the head, then down one at a time to the base: after each
    downgrade the schema is the one recorded on the way up; upgrading again rebuilds the head's
    schema exactly (SECURITY.md row 47). The PostgreSQL database is left at the head."""
    from flask_migrate import downgrade, upgrade

    from feedback import create_app

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'round-trip.sqlite3'}"
    else:
        url = PG_URL
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": str(tmp_path)})
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        # walk_revisions goes from the head down; the chain is linear (test_single_head).
        revisions = [r.revision for r in ScriptDirectory.from_config(config).walk_revisions()]
        revisions.reverse()

        def snapshot() -> dict[str, Any]:
            with db.engine.connect() as connection:
                return _schema(connection)

        before: dict[str, dict[str, Any]] = {"base": snapshot()}
        for revision in revisions:
            upgrade(revision=revision)
            before[revision] = snapshot()
        head = revisions[-1]
        for revision, previous in zip(
            reversed(revisions), ["base", *revisions[:-1]][::-1], strict=True
        ):
            downgrade(revision=previous)
            assert snapshot() == before[previous], f"downgrade of {revision} to {previous}"
        upgrade()
        assert snapshot() == before[head]
        db.session.remove()
        db.engine.dispose()


def test_a_new_database_is_not_given_statistics_of_empty_tables(tmp_path: Path) -> None:
    """Statistics taken of empty tables tell SQLite every table stays tiny, and it plans by them
    as the data grows: seeding 100,000 submissions into a new database took 643 s instead of ~40
    when a migration ran ANALYZE on it. Migrations take statistics only of data."""
    from flask_migrate import upgrade

    from feedback import create_app

    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": str(tmp_path)})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            statistics = connection.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            ).scalar()
        db.engine.dispose()
    assert statistics == 0
