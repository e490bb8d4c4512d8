"""IDOR matrix generated from ``app.url_map`` (SECURITY.md rows 12, 13 and 16).

Every rule that names an object (an ``<int:…>`` id, or an import's token) is requested with
organisation B's real objects, with every method, by every persona: a role wall answers 403,
an object the persona may not see answers 404 (never 403, which would reveal that it exists),
and an anonymous visitor is sent to the login page. A new rule with an id fails
:func:`test_every_rule_with_an_id_has_a_policy` until it is given one below.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from feedback.models import ORG_ROLES, STAFF_ROLES, Role, User
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD
from tests.security.conftest import PERSONAS, World

STAFF = frozenset(STAFF_ROLES)
ORG = frozenset(ORG_ROLES)
ADMIN = frozenset({Role.ADMIN})
COMPILER = frozenset({Role.COMPILER})
TAG_EDITORS = frozenset({Role.ADMIN, Role.REVIEWER, Role.COMPILER})
TRACKERS = frozenset({Role.REVIEWER, Role.COMPILER, Role.ADMIN})
USER_MANAGERS = frozenset({Role.ADMIN, Role.SECURITY_ADMIN})

# Who may see B's object once past the role wall (everyone else gets 404):
#   submission   - B's members, and federation staff once it reached the federation
#   organisation - B's members, staff and the system and security administrators
#   owned        - only the user who owns it (an export, a saved view, an inbox, an import)
#   federation   - everyone past the wall (plan, tags, campaigns, reports, suggestions, accounts)
POLICY: dict[str, tuple[frozenset[Role] | None, str]] = {
    "admin.organisation_edit": (ADMIN, "organisation"),
    "admin.organisation_set_active": (ADMIN, "organisation"),
    "admin.plan_item_edit": (ADMIN, "federation"),
    "admin.plan_item_set_active": (ADMIN, "federation"),
    "admin.tag_edit": (TAG_EDITORS, "federation"),
    "admin.tag_set_active": (TAG_EDITORS, "federation"),
    "admin.tag_group_edit": (TAG_EDITORS, "federation"),
    "admin.tag_group_set_active": (TAG_EDITORS, "federation"),
    "admin.tag_new": (TAG_EDITORS, "federation"),
    "admin.user_edit": (USER_MANAGERS, "federation"),
    "admin.user_action": (USER_MANAGERS, "federation"),
    "campaigns.tracker": (TRACKERS, "federation"),
    "campaigns.remind": (TRACKERS, "federation"),
    "consolidation.detail": (STAFF, "federation"),
    "consolidation.edit": (STAFF, "federation"),
    "consolidation.remove_source": (STAFF, "submission"),
    "exports.detail": (STAFF, "owned"),
    "exports.download": (STAFF, "owned"),
    "exports.progress": (STAFF, "owned"),
    "filing.detail": (None, "submission"),
    "filing.revision": (None, "submission"),
    "filing.download": (None, "submission"),
    "filing.act": (ORG, "submission"),
    "filing.edit": (ORG, "submission"),
    "filing.delete_attachment": (ORG, "submission"),
    "imports.preview": (ORG, "owned"),
    "imports.confirm": (ORG, "owned"),
    "main.organisation": (None, "organisation"),
    "main.open_notification": (None, "owned"),
    "reports.detail": (STAFF, "federation"),
    "reports.preview": (STAFF, "federation"),
    "reports.preview_workbook": (STAFF, "federation"),
    "reports.download": (STAFF, "federation"),
    "reports.responses": (STAFF, "federation"),
    "reports.edit": (COMPILER, "federation"),
    "reports.freeze": (COMPILER, "federation"),
    "reports.add_items": (COMPILER, "federation"),
    "reports.item_action": (COMPILER, "federation"),
    "reports.reword": (COMPILER, "federation"),
    "reports.sort": (COMPILER, "federation"),
    "reports.mark_sent": (COMPILER, "federation"),
    "review.detail": (STAFF, "submission"),
    "review.assign": (STAFF, "submission"),
    "review.add_comment": (STAFF, "submission"),
    "review.decide": (STAFF, "submission"),
    "review.edit": (STAFF, "submission"),
    "review.decide_similar": (STAFF, "submission"),
    "review.delete_view": (STAFF, "owned"),
}

# Rules that name no object: the login wall and role walls cover them (tests/main/test_pages.py
# for anonymous visitors); listed so that a new rule is a conscious decision.
ID_LESS = frozenset(
    {
        "static", "main.index", "main.healthz", "main.readyz", "main.set_language",
        "main.notifications", "auth.login", "auth.logout", "auth.mfa_verify", "auth.account",
        "auth.mfa_recovery_codes", "auth.mfa_setup", "auth.change_password",
        "admin.organisations", "admin.organisation_new", "admin.plan", "admin.plan_item_new",
        "admin.tags", "admin.users", "admin.user_new", "audit.index", "audit.export",
        "audit.verify", "campaigns.index", "campaigns.new", "exports.index", "exports.new",
        "reports.index", "reports.new", "review.index", "review.bulk", "review.save_view",
        "review.dashboard_page", "consolidation.index", "consolidation.new",
        "consolidation.add_sources", "filing.index", "filing.choose_kind", "filing.create",
        "filing.autosave", "imports.start", "imports.upload", "imports.template",
    }
)  # fmt: skip


def _names_an_object(rule: Rule) -> bool:
    return any(
        type(converter).__name__ == "BoundedIntegerConverter" or name == "token"
        for name, converter in rule._converters.items()
    )


def test_every_rule_with_an_id_has_a_policy(app: Flask) -> None:
    rules = list(app.url_map.iter_rules())
    with_id = {r.endpoint for r in rules if _names_an_object(r)}
    without = {r.endpoint for r in rules if not _names_an_object(r)}
    assert with_id == set(POLICY), "add new rules to POLICY (or remove stale entries)"
    assert without == ID_LESS, "a new rule without an id: add it to ID_LESS"


def _value(world: World, endpoint: str, name: str, draft: bool) -> object:
    """B's object for the URL variable ``name`` of ``endpoint``."""
    if name == "token":
        return world.import_token
    if name == "item_id":
        return world.ids["plan_item" if endpoint.startswith("admin.") else "report_item"]
    if draft and name in ("submission_id", "attachment_id"):
        return world.ids["draft" if name == "submission_id" else "draft_attachment"]
    key = {
        "org_id": "org", "user_id": "user", "tag_id": "tag", "group_id": "tag_group",
        "campaign_id": "campaign", "suggestion_id": "suggestion", "report_id": "report",
        "number": "version", "job_id": "job", "view_id": "view",
        "notification_id": "notification", "submission_id": "submission",
        "attachment_id": "attachment", "link_id": "link",
    }[name]  # fmt: skip
    return world.ids[key]


@dataclass(frozen=True)
class Probe:
    endpoint: str
    method: str
    url: str
    scope: str
    wall: frozenset[Role] | None
    draft: bool


def _probes(app: Flask, world: World) -> Iterator[Probe]:
    """Every rule with an id × every method × every choice of its any() parts × both drafts."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if not _names_an_object(rule):
            continue
        wall, scope = POLICY[rule.endpoint]
        choices = {
            name: sorted(converter.items)
            for name, converter in rule._converters.items()
            if hasattr(converter, "items")
        }
        drafts = (False, True) if "submission_id" in rule.arguments else (False,)
        for draft, combo in itertools.product(drafts, itertools.product(*choices.values())):
            values = dict(zip(choices, combo, strict=True))
            for name in rule.arguments - set(choices):
                values[name] = _value(world, rule.endpoint, name, draft)
            url = adapter.build(rule.endpoint, values)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield Probe(rule.endpoint, method, url, scope, wall, draft)


def _hidden(persona: str, scope: str, draft: bool) -> bool:
    """True when ``persona`` must not learn that B's object exists."""
    roles = set(PERSONAS[persona])
    if scope in ("owned",) or draft:
        return True  # nobody but the owner (and, for a draft, B's own members)
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
    for probe in _probes(app, world):
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
    for probe in _probes(app, world):
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
