"""The route policy the security tests check the application against.

Generated tests walk ``app.url_map``; these tables say what each rule must answer. A new rule
fails the tests until it is listed here (``test_idor.test_every_rule_has_a_policy``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from feedback.models import ORG_ROLES, STAFF_ROLES, Role
from tests.security.conftest import World

STAFF = frozenset(STAFF_ROLES)
ORG = frozenset(ORG_ROLES)
ADMIN = frozenset({Role.ADMIN})
COMPILER = frozenset({Role.COMPILER})
TAG_EDITORS = frozenset({Role.ADMIN, Role.REVIEWER, Role.COMPILER})
TRACKERS = frozenset({Role.REVIEWER, Role.COMPILER, Role.ADMIN})
OPENERS = frozenset({Role.COMPILER, Role.ADMIN})
AUDITOR = frozenset({Role.AUDITOR})
USER_MANAGERS = frozenset({Role.ADMIN, Role.SECURITY_ADMIN})

# Who may see B's object once past the role wall (everyone else gets 404):
#   submission   - B's members, and federation staff once it reached the federation
#   organisation - B's members, staff and the system and security administrators
#   owned        - only the user who owns it (an export, a saved view, an inbox, an import)
#   federation   - everyone past the wall (plan, tags, campaigns, reports, suggestions, accounts)
#   token        - the API token's owner, and the security administrator (who may revoke any)
# The JSON API (blueprint "api") is left out of these tables: it answers to bearer tokens, not
# to the session, and tests/api checks its permissions, scopes and other organisations' 404s.
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
    "exports.restart": (STAFF, "owned"),
    "filing.detail": (None, "submission"),
    "filing.revision": (None, "submission"),
    "filing.download": (None, "submission"),
    "filing.act": (ORG, "submission"),
    "filing.edit": (ORG, "submission"),
    "filing.delete_attachment": (ORG, "submission"),
    "imports.preview": (ORG, "owned"),
    "imports.confirm": (ORG, "owned"),
    "imports.progress": (ORG, "owned"),
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
    "auth.revoke_api_token": (None, "token"),
}

ANY: frozenset[Role] = frozenset(Role)  # any logged-in user
# Rules that name no object, with who passes their role wall (None: public). The login wall
# (tests/main/test_pages.py) and CSRF (test_csrf.py) cover them; listed so that a new rule is a
# conscious decision.
ID_LESS: dict[str, frozenset[Role] | None] = {
    "static": None, "main.healthz": None, "main.readyz": None, "main.set_language": None,
    "main.privacy": None,
    "auth.login": None, "auth.mfa_verify": None,
    "main.index": ANY, "main.notifications": ANY, "auth.logout": ANY, "auth.account": ANY,
    "auth.mfa_recovery_codes": ANY, "auth.mfa_setup": ANY, "auth.change_password": ANY,
    "auth.api_tokens": ANY, "auth.all_api_tokens": frozenset({Role.SECURITY_ADMIN}),
    "admin.organisations": ADMIN, "admin.organisation_new": ADMIN, "admin.plan": ADMIN,
    "admin.plan_item_new": ADMIN, "admin.tags": TAG_EDITORS, "admin.users": USER_MANAGERS,
    "admin.user_new": USER_MANAGERS,
    "audit.index": AUDITOR, "audit.export": AUDITOR, "audit.verify": AUDITOR,
    "campaigns.index": TRACKERS, "campaigns.new": OPENERS,
    "exports.index": STAFF, "exports.new": STAFF,
    "reports.index": STAFF, "reports.new": COMPILER,
    "review.index": STAFF, "review.bulk": STAFF, "review.save_view": STAFF,
    "review.dashboard_page": STAFF,
    "consolidation.index": STAFF, "consolidation.new": STAFF, "consolidation.add_sources": STAFF,
    "filing.index": ORG, "filing.choose_kind": ORG, "filing.create": ORG, "filing.autosave": ORG,
    "imports.start": ORG, "imports.upload": ORG, "imports.template": ORG,
}  # fmt: skip


def is_api(rule: Rule) -> bool:
    """True for the JSON API's rules (bearer tokens; see tests/api)."""
    return str(rule.endpoint).startswith("api.")


def names_an_object(rule: Rule) -> bool:
    """True for a rule whose URL picks one object (an integer id or an import token)."""
    return any(
        type(converter).__name__ == "BoundedIntegerConverter" or name == "token"
        for name, converter in rule._converters.items()
    )


def value_for(world: World, endpoint: str, name: str, draft: bool) -> object:
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
        "notification_id": "notification", "submission_id": "submission", "token_id": "api_token",
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


def urls(app: Flask, world: World, rule: Rule) -> Iterator[tuple[str, bool]]:
    """(url, draft) for ``rule``: every choice of its any() parts, the world's objects for its
    ids, and both a sent submission and a draft where it names one."""
    adapter = app.url_map.bind("localhost")
    choices = {
        name: sorted(converter.items)
        for name, converter in rule._converters.items()
        if hasattr(converter, "items")
    }
    drafts = (False, True) if "submission_id" in rule.arguments else (False,)
    for draft, combo in itertools.product(drafts, itertools.product(*choices.values())):
        values: dict[str, Any] = dict(zip(choices, combo, strict=True))
        for name in rule.arguments - set(choices):
            values[name] = value_for(world, rule.endpoint, name, draft)
        yield adapter.build(rule.endpoint, values), draft


def probes(app: Flask, world: World) -> Iterator[Probe]:
    """Every rule with an id × every method × every choice of its any() parts × both drafts."""
    for rule in app.url_map.iter_rules():
        if not names_an_object(rule) or is_api(rule):
            continue
        wall, scope = POLICY[rule.endpoint]
        for url, draft in urls(app, world, rule):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield Probe(rule.endpoint, method, url, scope, wall, draft)
