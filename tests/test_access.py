"""Organisation isolation: one organisation never sees another's data (answer 404)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.access import get_scoped_or_404, scoped
from feedback.extensions import db
from feedback.models import Organisation, Role, User
from tests.conftest import login
from tests.factories import PASSWORD, make_org, make_user


def test_member_sees_own_organisation_but_not_another(client: FlaskClient) -> None:
    own, other = make_org(), make_org()
    user = make_user(org=own)
    make_user(org=other, name="另一园区的人")
    login(client, user.email, PASSWORD)
    assert client.get(f"/organisations/{own.id}").status_code == 200
    response = client.get(f"/organisations/{other.id}")
    assert response.status_code == 404
    assert "另一园区的人" not in response.get_data(as_text=True)


def test_probing_sequential_ids_reveals_nothing(client: FlaskClient) -> None:
    own = make_org()
    others = [make_org() for _ in range(3)]
    user = make_user(org=own)
    login(client, user.email, PASSWORD)
    missing = max(o.id for o in others) + 100

    def main_content(path: str) -> str:
        body = client.get(path).get_data(as_text=True)
        return body[body.index("<main") : body.index("</main>")]

    bodies = {main_content(f"/organisations/{i}") for i in [*(o.id for o in others), missing]}
    assert len(bodies) == 1  # existing and non-existent ids answer the same


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.COMPILER, Role.ADMIN])
def test_federation_staff_and_admin_see_every_organisation(client: FlaskClient, role: Role) -> None:
    park = make_org()
    user = make_user(role)
    login(client, user.email, PASSWORD)
    assert client.get(f"/organisations/{park.id}").status_code == 200


def test_auditor_sees_only_own_organisation(client: FlaskClient) -> None:
    park = make_org()
    auditor = make_user(Role.AUDITOR)
    login(client, auditor.email, PASSWORD)
    assert client.get(f"/organisations/{park.id}").status_code == 404


def test_scoped_helper_filters_by_owner(app: Flask) -> None:
    a, b = make_org(), make_org()
    user_a = make_user(org=a)
    make_user(org=b)
    rows = db.session.scalars(scoped(select(User), User, user_a)).all()
    assert {u.organisation_id for u in rows} == {a.id}
    orgs = db.session.scalars(scoped(select(Organisation), Organisation, user_a)).all()
    assert [o.id for o in orgs] == [a.id]
    from werkzeug.exceptions import NotFound

    with pytest.raises(NotFound):
        get_scoped_or_404(Organisation, b.id, user_a)


def test_views_do_not_fetch_by_id_without_the_helper() -> None:
    """A guard on the rule: views call get_scoped_or_404, not session.get on owned models."""
    from pathlib import Path

    owned = ("Organisation", "Submission", "Attachment")
    offenders = []
    for path in Path("feedback").rglob("*views.py"):
        text = path.read_text(encoding="utf-8")
        for model in owned:
            if re.search(rf"session\.get\(\s*{model}\b", text) and "admin" not in path.parts:
                offenders.append(f"{path}: {model}")
    assert offenders == []
