"""Odd numbers in queries and forms never cause a 500 (SECURITY.md row 18, ASVS 5 2.2.1).

``"²".isdigit()`` is true but ``int("²")`` raises, and a 30-digit id overflows every column;
both reached ``int()`` or the database from several views. Every GET page gets every query
argument the application reads, and every POST rule every numeric form field, set to such
values, as users who pass the rule's role wall.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedback.models import User
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_user
from tests.security.conftest import World
from tests.security.routes import ID_LESS, POLICY, is_api, probes

ODD = ["²", "9" * 30, "-1", "1.5", "٣"]
# What the views read with request.args / request.form as numbers or choices.
QUERY_ARGS = [
    "after", "assignee", "before", "campaign", "day", "from", "ids", "kind", "org", "org_kind",
    "outcome", "page", "parent", "plan", "province", "q", "role", "sort", "state", "status",
    "tag", "to", "similar", "attachments",
]  # fmt: skip
FORM_FIELDS = [
    "assignee", "assignee_id", "campaign_id", "confirmed_count", "consolidated_id", "ids",
    "organisation_id",
    "plan_item_ids", "priority", "report_id", "submission_id", "tag_id", "tag_ids", "version",
]  # fmt: skip


def _readers(app: Flask, world: World) -> list[tuple[User, FlaskClient]]:
    readers = []
    for user in [world.user_b, world.other_staff, *world.personas.values()]:
        client = app.test_client()
        login(client, user.email, PASSWORD)
        readers.append((user, client))
    return readers


def _wall(endpoint: str) -> frozenset[object] | None:
    return POLICY[endpoint][0] if endpoint in POLICY else ID_LESS[endpoint]


@pytest.mark.parametrize("odd", ODD)
def test_odd_query_arguments_never_cause_a_500(app: Flask, world: World, odd: str) -> None:
    query = "&".join(f"{name}={odd}" for name in QUERY_ARGS)
    pages = [(p.endpoint, p.url) for p in probes(app, world) if p.method == "GET"]
    pages += [
        (rule.endpoint, rule.rule)
        for rule in app.url_map.iter_rules()
        if not rule.arguments
        and "GET" in (rule.methods or set())
        and rule.endpoint != "static"
        and not is_api(rule)
    ]
    crashed = []
    readers = _readers(app, world)
    for endpoint, url in pages:
        wall = _wall(endpoint)
        for user, client in readers:
            if wall is not None and not set(user.roles) & wall:
                continue
            response = client.get(f"{url}?{query}")
            response.close()
            if response.status_code >= 500:
                crashed.append(f"GET {url} as {user.email}")
    assert crashed == []


@pytest.mark.parametrize("odd", ["²", "9" * 30])
def test_odd_form_numbers_never_cause_a_500(app: Flask, world: World, odd: str) -> None:
    crashed = []
    readers = _readers(app, world)
    tokens = {user.id: csrf_token(client, "/notifications") for user, client in readers}
    posts = [(p.endpoint, p.url) for p in probes(app, world) if p.method == "POST"]
    posts += [
        (rule.endpoint, rule.rule)
        for rule in app.url_map.iter_rules()
        if not rule.arguments and "POST" in (rule.methods or set()) and not is_api(rule)
    ]
    for endpoint, url in posts:
        if endpoint in ("auth.logout", "auth.login", "auth.mfa_verify"):
            continue  # would end the session the rest of the loop needs
        wall = _wall(endpoint)
        for user, client in readers:
            if wall is not None and not set(user.roles) & wall:
                continue
            data = dict.fromkeys(FORM_FIELDS, odd) | {"csrf_token": tokens[user.id]}
            response = client.post(url, data=data)
            response.close()
            if response.status_code >= 500:
                crashed.append(f"POST {url} as {user.email}")
    assert crashed == []


def test_a_nul_character_is_refused_before_it_reaches_the_database(client: FlaskClient) -> None:
    """PostgreSQL cannot store or compare NUL in text: the form fuzzing found an idempotency key
    of NULs ending in a 500 there. A path, query or form value with one is a 400, everywhere."""
    user = make_user()
    login(client, user.email, PASSWORD)
    token = csrf_token(client, "/submissions/new?kind=problem")
    form = {"csrf_token": token, "idempotency_key": "\0" * 36, "title": "标题"}

    posted = client.post("/submissions/new/problem", data=form)
    queried = client.get("/submissions/?q=%00")
    in_path = client.get("/submissions/import/%00")
    clean = client.get("/submissions/?q=x")

    assert [posted.status_code, queried.status_code, in_path.status_code] == [400, 400, 400]
    assert clean.status_code == 200
