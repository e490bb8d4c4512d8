"""Field encryption: TOTP secrets are stored AES-GCM encrypted, keys rotate, a wrong key fails."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, text

from feedback.crypto import EXTENSION, FieldCipher, FieldKeyError, new_key, parse_keys
from feedback.extensions import db
from feedback.models import AuditRecord, Role, User
from tests.conftest import login
from tests.factories import PASSWORD, make_user

PURPOSE = "user.mfa_secret"


def _stored(user_id: int) -> str:
    value = db.session.scalar(text('SELECT mfa_secret FROM "user" WHERE id = :id'), {"id": user_id})
    assert isinstance(value, str)
    return value


def _use_keys(app: Flask, *keys: str) -> None:
    """As if the app had been restarted with FEEDBACK_FIELD_KEYS=keys."""
    app.extensions[EXTENSION] = FieldCipher(parse_keys(",".join(keys)))
    db.session.expire_all()


def test_stored_value_is_not_the_secret(app: Flask) -> None:
    reviewer = make_user(Role.REVIEWER, mfa=True)
    secret = reviewer.mfa_secret
    assert secret is not None and len(secret) == 32

    stored = _stored(reviewer.id)

    assert stored.startswith("gcm1$") and secret not in stored
    assert len(stored) <= 255  # the column's width
    db.session.expire_all()
    assert db.session.get(User, reviewer.id).mfa_secret == secret  # type: ignore[union-attr]


def test_round_trip_is_bound_to_key_column_and_every_byte() -> None:
    cipher = FieldCipher(parse_keys(new_key()))
    sealed = cipher.encrypt("JBSWY3DPEHPK3PXP", PURPOSE)

    assert cipher.decrypt(sealed, PURPOSE) == "JBSWY3DPEHPK3PXP"
    assert cipher.encrypt("JBSWY3DPEHPK3PXP", PURPOSE) != sealed  # a fresh nonce each time
    with pytest.raises(FieldKeyError, match="无法用 FEEDBACK_FIELD_KEYS"):
        cipher.decrypt(sealed, "user.phone")  # moved into another column
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(FieldKeyError):
        cipher.decrypt(flipped, PURPOSE)
    with pytest.raises(FieldKeyError, match="未加密"):
        cipher.decrypt("JBSWY3DPEHPK3PXP", PURPOSE)  # plaintext is never taken as a secret
    with pytest.raises(FieldKeyError, match="无法用 FEEDBACK_FIELD_KEYS"):
        FieldCipher(parse_keys(new_key())).decrypt(sealed, PURPOSE)


@pytest.mark.parametrize("bad", ["short", "x" * 44, "不是密钥"])
def test_malformed_keys_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(FieldKeyError, match="第 2 个密钥无效"):
        parse_keys(f"{new_key()}, {bad}")


def test_wrong_key_fails_closed_with_a_clear_error(app: Flask, client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER, email="li@cpcif.org.cn", mfa=True)
    _use_keys(app, new_key())  # not the key the secret was written with

    with pytest.raises(FieldKeyError, match="FEEDBACK_FIELD_KEYS"):
        _ = db.session.get(User, reviewer.id).mfa_secret  # type: ignore[union-attr]
    db.session.rollback()


def test_rotation_re_encrypts_under_the_new_key_and_login_still_works(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient
) -> None:
    reviewer = make_user(Role.REVIEWER, email="wang@cpcif.org.cn", mfa=True)
    make_user(Role.SUBMITTER, email="zhao@park.cn", mfa=False)  # no secret: left alone
    secret, old = reviewer.mfa_secret, _stored(reviewer.id)
    assert secret is not None
    derived = app.extensions[EXTENSION]
    new = new_key()
    # The new key first; the old (here: derived from SECRET_KEY) still decrypts until rotated.
    app.extensions[EXTENSION] = FieldCipher([*parse_keys(new), *derived.keys])

    result = runner.invoke(args=["rotate-field-key"])

    assert result.exit_code == 0, result.output
    assert "重新加密 1 个" in result.output
    rotated = _stored(reviewer.id)
    assert rotated != old and secret not in rotated
    assert FieldCipher(parse_keys(new)).decrypt(rotated, PURPOSE) == secret
    assert db.session.scalar(
        select(AuditRecord.action).where(AuditRecord.action == "field_key_rotate")
    )
    assert runner.invoke(args=["rotate-field-key"]).output.count("重新加密 0 个") == 1

    _use_keys(app, new)  # the old key is gone
    response = login(client, "wang@cpcif.org.cn", PASSWORD, code=pyotp.TOTP(secret).now())
    assert response.status_code == 302 and response.headers["Location"] != "/auth/mfa"
    assert client.get("/").status_code == 200


def test_rotation_with_a_wrong_key_changes_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    reviewer_id = make_user(Role.REVIEWER, mfa=True).id
    before = _stored(reviewer_id)
    _use_keys(app, new_key())

    result = runner.invoke(args=["rotate-field-key"])

    assert result.exit_code == 1
    assert "FEEDBACK_FIELD_KEYS" in result.output
    assert _stored(reviewer_id) == before


def test_migration_encrypts_existing_secrets_and_downgrade_restores_them(tmp_path: Path) -> None:
    from flask_migrate import downgrade, upgrade

    from feedback import create_app

    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.sqlite3'}",
            "UPLOAD_DIR": str(tmp_path / "up"),
        },
    )
    secret = pyotp.random_base32()
    with app.app_context():
        upgrade(revision="ab4c5d6e7f0b")
        db.session.execute(
            text(
                "INSERT INTO organisation (id, name, kind, uscc_check_overridden,"
                " requires_approval, active, created_at, updated_at) VALUES (1, '联合会',"
                " 'federation', 0, 0, 1, '2026-01-01', '2026-01-01')"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO user (id, organisation_id, email, name, password_hash,"
                " must_change_password, password_changed_at, failed_logins, session_version,"
                " active, created_at, mfa_secret, mfa_enabled_at) VALUES (1, 1, 'a@b.cn', '张工',"
                " 'x', 0, '2026-01-01', 0, 1, 1, '2026-01-01', :s, '2026-01-01')"
            ),
            {"s": secret},
        )
        db.session.commit()
        upgrade()
        encrypted = _stored(1)
        decrypted = db.session.get(User, 1).mfa_secret  # type: ignore[union-attr]
        db.session.commit()
        downgrade(revision="ab4c5d6e7f0b")
        plain = _stored(1)
        db.session.remove()
        db.engine.dispose()
    assert encrypted.startswith("gcm1$") and secret not in encrypted
    assert decrypted == secret
    assert plain == secret
