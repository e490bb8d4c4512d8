"""Secrets at rest (SECURITY.md rows 1 and 39): the database holds no password and no TOTP
secret in a readable form, and a weaker stored hash is replaced at the next login."""

from __future__ import annotations

import pyotp
from argon2 import extract_parameters
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from feedback.extensions import db
from feedback.models import Base, Role, User
from tests.conftest import login
from tests.factories import PASSWORD, make_user


def _dump() -> str:
    """Every stored value of every model table, as the database holds it (no type decoding)."""
    lines: list[str] = []
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            names = ", ".join(f'"{c.name}"' for c in table.columns)
            query = text(f'SELECT {names} FROM "{table.name}"')  # noqa: S608 (own table names)
            lines.extend(repr(tuple(row)) for row in connection.execute(query))
    return "\n".join(lines)


def test_database_dump_holds_no_password_and_no_totp_secret(
    app: Flask, client: FlaskClient
) -> None:
    reviewer = make_user(Role.REVIEWER, email="dump.reviewer@cpcif.org.cn")
    secret = reviewer.mfa_secret
    assert secret is not None
    login(client, "dump.reviewer@cpcif.org.cn", PASSWORD, code=pyotp.TOTP(secret).now())
    db.session.commit()

    dump = _dump()

    assert "dump.reviewer@cpcif.org.cn" in dump  # the dump does hold the user's row
    assert PASSWORD not in dump
    assert secret not in dump and secret.lower() not in dump
    assert "$argon2id$" in dump


def test_a_weaker_hash_is_replaced_at_login(app: Flask, client: FlaskClient) -> None:
    user = make_user(email="rehash@park.cn")  # hashed with the tests' fast parameters
    weak = user.password_hash
    assert extract_parameters(weak).memory_cost < 19 * 1024
    app.config["ARGON2_FAST"] = False  # as if the parameters had been raised since

    response = login(client, "rehash@park.cn", PASSWORD)

    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(User, user.id).password_hash  # type: ignore[union-attr]
    assert stored != weak and stored.startswith("$argon2id$")
    params = extract_parameters(stored)
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2 and params.parallelism == 1
    assert login(FlaskClient(app), "rehash@park.cn", PASSWORD).status_code == 302
