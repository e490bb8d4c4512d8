"""Factory functions for test data. Each flushes; the test decides when to commit."""

from __future__ import annotations

import itertools
from typing import Any

from feedback.admin.services import OrganisationData, create_organisation, create_user
from feedback.codes.uscc import make_uscc
from feedback.extensions import db
from feedback.models import Organisation, OrgKind, Role, User

PASSWORD = "Test-Passw0rd!x"
_counter = itertools.count(1)


def make_org(kind: OrgKind = OrgKind.PARK, name: str | None = None, **fields: Any) -> Organisation:
    """An organisation with a valid credit code; parks get a region."""
    number = next(_counter)
    if kind == OrgKind.PARK:
        fields.setdefault("region_code", "320500")
    data = OrganisationData(
        name=name or f"测试单位{number}号",
        kind=kind,
        uscc=fields.pop("uscc", make_uscc(f"5132050{number:010d}")),
        **fields,
    )
    org = create_organisation(None, data)
    db.session.commit()
    return org


def federation() -> Organisation:
    """The federation organisation (created once per test database)."""
    from sqlalchemy import select

    found = db.session.scalars(
        select(Organisation).where(Organisation.kind == OrgKind.FEDERATION)
    ).first()
    return found or make_org(OrgKind.FEDERATION, name="中国石油和化学工业联合会")


def make_user(
    *roles: Role,
    org: Organisation | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    must_change_password: bool = False,
    name: str = "测试用户",
) -> User:
    """A user with ``roles`` (default: submitter of a new park) and a known password."""
    roles = roles or (Role.SUBMITTER,)
    if org is None:
        needs_federation = any(r not in (Role.SUBMITTER, Role.ORG_APPROVER) for r in roles)
        org = federation() if needs_federation else make_org()
    user, _none = create_user(
        None,
        email=email or f"user{next(_counter)}@example.cn",
        name=name,
        organisation=org,
        roles=set(roles),
        password=password,
        must_change_password=must_change_password,
    )
    db.session.commit()
    return user
