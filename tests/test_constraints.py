"""A direct invalid write is refused by the database itself (SECURITY.md row 18).

The forms and services check every field; the schema repeats the rules that can be stated there
(NOT NULL, CHECK on every enum and range, UNIQUE, foreign keys, ``String(n)``), so that a bug in
a service, a script or a hand-written SQL fix cannot store what the forms would refuse.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError

from feedback.extensions import db
from tests.factories import make_org, make_submission, make_user

INVALID = {
    "status outside its enum": "UPDATE submission SET status = 'approved_by_magic'",
    "kind outside its enum": "UPDATE submission SET kind = 'rumour'",
    "role outside its enum": "UPDATE user_role SET role = 'superuser'",
    "grade year out of range": "UPDATE organisation SET park_grade_year = 1900",
    "missing e-mail": 'UPDATE "user" SET email = NULL',
    "missing title": "UPDATE submission SET title = NULL",
    "owner that does not exist": "UPDATE submission SET organisation_id = 999999",
    "two organisations, one name": "UPDATE organisation SET name = 'same name'",
}


@pytest.mark.parametrize("statement", INVALID.values(), ids=INVALID.keys())
def test_the_database_refuses_a_direct_invalid_write(app: Flask, statement: str) -> None:
    make_submission(make_user(org=make_org()))
    make_org()  # a second organisation, for the UNIQUE case
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(text(statement))
    db.session.rollback()


def test_postgresql_refuses_text_longer_than_its_column(app: Flask) -> None:
    """``String(n)`` is a length limit on PostgreSQL only: SQLite stores any length, so there
    the forms' and services' Length checks are the only bound."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    make_org()
    db.session.commit()
    with pytest.raises(DataError):
        db.session.execute(text("UPDATE organisation SET short_name = :s"), {"s": "长" * 61})
    db.session.rollback()
