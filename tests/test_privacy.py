"""The classification registry covers every column of the schema (SECURITY.md row 38)."""

from __future__ import annotations

import feedback.models  # noqa: F401 (registers every table on the metadata)
from feedback import privacy
from feedback.extensions import db


def _columns() -> set[str]:
    return {f"{table.name}.{column.name}" for table in db.metadata.tables.values()
            for column in table.columns}  # fmt: skip


def test_every_column_is_classified_personal_or_not() -> None:
    """A new column fails here until it is entered in feedback/privacy.py, as PI or not."""
    personal, other = set(privacy.PERSONAL), privacy.not_personal_columns()
    assert _columns() - personal - other == set(), "unclassified columns"
    assert (personal | other) - _columns() == set(), "registry names columns that do not exist"
    assert personal & other == set(), "classified twice"
    assert len(_columns()) > 200


def test_contacts_credentials_and_addresses_are_personal() -> None:
    expected = {
        "user.name": privacy.PIClass.CONTACT,
        "user.email": privacy.PIClass.CONTACT,
        "user.phone": privacy.PIClass.CONTACT,
        "submission.contact_name": privacy.PIClass.CONTACT,
        "submission.contact_phone": privacy.PIClass.CONTACT,
        "user.password_hash": privacy.PIClass.CREDENTIAL,
        "user.mfa_secret": privacy.PIClass.CREDENTIAL,
        "audit_record.ip": privacy.PIClass.ACTIVITY,
        "audit_record.actor_email": privacy.PIClass.ACTIVITY,
    }
    assert {name: privacy.PERSONAL[name].pi_class for name in expected} == expected


def test_every_class_has_columns_and_every_column_a_rule() -> None:
    groups = privacy.by_class()
    assert [pi_class for pi_class, columns in groups if not columns] == []
    for column in privacy.PERSONAL.values():
        assert str(column.label) and str(column.purpose) and str(column.retention)
