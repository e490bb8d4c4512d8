"""IDOR matrix generated from ``app.url_map`` (SECURITY.md rows 12, 13 and 16).

Every rule that names an object (an ``<int:…>`` id, or an import's token) is requested with
organisation B's real objects, with every method, by every persona: a role wall answers 403,
an object the persona may not see answers 404 (never 403, which would reveal that it exists),
and an anonymous visitor is sent to the login page. A new rule with an id fails
:func:`test_every_rule_has_a_policy` until it is given one in ``routes.py``.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedback.models import Role, User
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD
from tests.security.conftest import PERSONAS, World
from tests.security.routes import (
    ID_LESS,
    POLICY,
    STAFF,
    Probe,
    is_api,
    names_an_object,
    probes,
)


def test_every_rule_has_a_policy(app: Flask) -> None:
    rules = [r for r in app.url_map.iter_rules() if not is_api(r)]
    with_id = {r.endpoint for r in rules if names_an_object(r)}
    without = {r.endpoint for r in rules if not names_an_object(r)}
    assert with_id == set(POLICY), "add new rules to POLICY (or remove stale entries)"
    assert without == set(ID_LESS), "a new rule without an id: add it to ID_LESS"


def _hidden(persona: str, scope: str, draft: bool) -> bool:
    """True when ``persona`` must not learn that B's object exists."""
    roles = set(PERSONAS[persona])
    if scope in ("owned",) or draft:
        return True  # nobody but the owner (and, for a draft, B's own members)
    if scope == "token":
        return Role.SECURITY_ADMIN not in roles
    if scope == "submission":
        return not roles & STAFF
    if scope == "organisation":
        return bool(roles & {Role.SUBMITTER, Role.ORG_APPROVER, Role.AUDITOR})
    return False


def _expected(persona: str, probe: Probe) -> int | None:
    """403 at a role wall, 404 for a hidden object, None where the persona may act."""
    if probe.wall is not None and not set(PERSONAS[persona]) & probe.wall:
        return 403
    return 404 if _hidden(persona, probe.scope, probe.draft) else None


def _logged_in(app: Flask, user: User) -> tuple[FlaskClient, str]:
    client = app.test_client()
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 302 and "/auth/" not in response.headers["Location"]
    return client, csrf_token(client, "/notifications")


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_persona_never_reaches_organisation_b(app: Flask, world: World, persona: str) -> None:
    """Role walls answer 403; B's objects answer 404; nothing is reached by changing an id."""
    client, token = _logged_in(app, world.personas[persona])
    wrong = []
    checked = 0
    for probe in probes(app, world):
        expected = _expected(persona, probe)
        if expected is None:
            continue  # the persona may act here; the feature's own tests cover it
        data = None if probe.method == "GET" else {"csrf_token": token}
        response = client.open(probe.url, method=probe.method, data=data)
        response.close()
        got = response.status_code
        checked += 1
        if got != expected:
            wrong.append(f"{probe.method} {probe.url} ({probe.endpoint}): {got}, not {expected}")
    assert wrong == []
    assert checked >= 20


def test_anonymous_visitor_is_sent_to_login_for_real_ids(app: Flask, world: World) -> None:
    client = app.test_client()
    token = csrf_token(client, "/auth/login")
    wrong = []
    for probe in probes(app, world):
        data = None if probe.method == "GET" else {"csrf_token": token}
        response = client.open(probe.url, method=probe.method, data=data)
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not location.startswith("/auth/login"):
            wrong.append(f"{probe.method} {probe.url}: {response.status_code} {location}")
    assert wrong == []


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("owner", "/submissions/{submission}"),
        ("owner", "/submissions/{draft}"),
        ("owner", "/submissions/{submission}/attachments/{attachment}"),
        ("owner", "/organisations/{org}"),
        ("staff", "/review/{submission}"),
        ("staff", "/exports/{job}"),
    ],
)
def test_the_ids_are_real_for_their_owners(app: Flask, world: World, who: str, path: str) -> None:
    """Control: the owner reaches the objects the matrix uses, so its 404s are refusals."""
    client, _token = _logged_in(app, world.user_b if who == "owner" else world.other_staff)
    response = client.get(path.format(**world.ids))
    response.close()  # a download is streamed from its file
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("who", "method", "path"),
    [
        # An attachment of another submission of the same organisation, through this one.
        ("owner", "GET", "/submissions/{submission}/attachments/{other_attachment}"),
        ("owner", "POST", "/submissions/{draft}/attachments/{other_attachment}/delete"),
        # A similarity link that does not involve this submission.
        ("staff", "POST", "/review/{submission}/similar/{far_link}/confirm"),
        # An item of another report.
        ("compiler", "POST", "/reports/{report}/items/{second_report_item}/remove"),
        ("compiler", "GET", "/reports/{report}/items/{second_report_item}/reword"),
    ],
)
def test_a_child_id_under_the_wrong_parent_is_not_found(
    app: Flask, world: World, who: str, method: str, path: str
) -> None:
    user = {"owner": world.user_b, "staff": world.other_staff}.get(who)
    client, token = _logged_in(app, user or world.personas["compiler"])
    data = None if method == "GET" else {"csrf_token": token}
    assert client.open(path.format(**world.ids), method=method, data=data).status_code == 404
