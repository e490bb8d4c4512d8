"""XSS corpus in every user-text field, rendered on every page (SECURITY.md row 19).

The payload goes into each field people type (titles, sections, comments, organisation, user,
tag and saved-view names, consolidated suggestions, report wording, campaign text, file names)
and into the search box; then every GET page is rendered for each persona who may see it. No
page may carry the payload as markup, and every page carries the CSP that would stop an inline
script that slipped through.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from feedback.extensions import db
from feedback.filing.kinds import Kind
from feedback.models import (
    Attachment,
    Campaign,
    Comment,
    ConsolidatedSuggestion,
    Event,
    ImportBatch,
    Notification,
    PlanItem,
    Report,
    ReportItem,
    ReportVersion,
    Revision,
    SavedView,
    Submission,
    Tag,
    TagGroup,
    User,
)
from feedback.reports import services as reports
from feedback.security import CSP
from tests.conftest import login
from tests.factories import PASSWORD
from tests.security.conftest import World, build_world
from tests.security.routes import ID_LESS, POLICY, probes

CORPUS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "javascript:alert(1)",
    "{{7*7}}{% raw %}${7*7}",
    "</textarea><script>alert(1)</script>",
    "\u202e<img src=x onerror=alert(1)>\u200b＜script＞",
    "<ſcript>alert(1)</ſcript><a href=javascript:alert(1)>x</a>",
]
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data"}


class _Markup(HTMLParser):
    """Collects what a browser would run: scripts, handlers, javascript: URLs, injected images.

    The templates contain none of these (tests/main/test_pages.py keeps them free of inline
    script and handlers), so any found came from data. Parsing, rather than searching the text,
    tells an escaped payload inside an attribute value from a real attribute.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.offences: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _value in attrs}
        if tag == "script" and "src" not in names:
            self.offences.append("<script> without src")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.offences.append("<img src=x>")
        for name, value in attrs:
            if name.startswith("on"):
                self.offences.append(f"<{tag} {name}=…>")
            cleaned = re.sub(r"[\s\x00-\x1f]", "", value or "").lower()
            if name in URL_ATTRIBUTES and cleaned.startswith(
                ("javascript:", "vbscript:", "data:text")
            ):
                self.offences.append(f"<{tag} {name}={value!r}>")


SKIP_PAGES = {"static", "main.healthz", "main.readyz"}


def _poison(world: World, payload: str) -> None:
    """Every user-text field of every object in ``world`` becomes ``payload``."""

    def fit(limit: int, suffix: str = "") -> str:
        return payload[: limit - len(suffix)] + suffix

    world.org_b.name, world.org_b.short_name = fit(200, " B"), fit(60)
    world.org_b.affiliation, world.org_b.notes = fit(200), payload
    world.org_a.name = fit(200, " A")
    for user in db.session.scalars(select(User)):
        user.name = fit(60)
    for submission in db.session.scalars(select(Submission)):
        submission.title, submission.summary, submission.abstract = fit(200), payload, payload
        submission.contact_name = fit(30)
        sections = json.loads(submission.sections_json)
        submission.sections_json = json.dumps(dict.fromkeys(sections or ["description"], payload))
    for revision in db.session.scalars(select(Revision)):
        snapshot = json.loads(revision.snapshot_json)
        for key in ("title", "summary"):
            snapshot[key] = payload
        revision.snapshot_json = json.dumps(snapshot)
    for event in db.session.scalars(select(Event)):
        event.note = payload
    for attachment in db.session.scalars(select(Attachment)):
        attachment.original_name = fit(255, ".pdf")
    sent = db.session.get(Submission, world.ids["submission"])
    assert sent is not None
    for visibility in ("internal", "to_submitter"):
        db.session.add(
            Comment(submission_id=sent.id, author_id=world.other_staff.id,
                    visibility=visibility, body=payload)
        )  # fmt: skip
    for view in db.session.scalars(select(SavedView)):
        view.name = fit(60)
    for item in db.session.scalars(select(PlanItem)):
        item.name, item.description = fit(200), payload
    for number, group in enumerate(db.session.scalars(select(TagGroup))):
        group.name = fit(100, f" {number}")
    for number, tag in enumerate(db.session.scalars(select(Tag))):
        tag.name = fit(100, f" {number}")  # unique within a group
    for suggestion in db.session.scalars(select(ConsolidatedSuggestion)):
        suggestion.title, suggestion.department = fit(200), fit(200)
        suggestion.description = suggestion.suggestion = suggestion.basis = payload
    for report in db.session.scalars(select(Report)):
        report.title, report.period_label, report.issuer = fit(200), fit(60), fit(100)
    for report_item in db.session.scalars(select(ReportItem)):
        report_item.wording = dict.fromkeys(reports.field_labels(Kind.PROBLEM), payload)
    for version in db.session.scalars(select(ReportVersion)):
        version.document_number, version.sent_channel = fit(60), fit(60)
    for campaign in db.session.scalars(select(Campaign)):
        campaign.title, campaign.period = fit(200), fit(40)
        campaign.instructions, campaign.target_description = payload, fit(200)
    for notification in db.session.scalars(select(Notification)):
        notification.title, notification.body, notification.link = fit(200), payload, fit(200)
    for batch in db.session.scalars(select(ImportBatch)):
        batch.original_name = fit(255, ".xlsx")
    db.session.commit()


def _pages(app: Flask, world: World, payload: str) -> list[tuple[str, str]]:
    """(endpoint, url) of every GET page, ids from ``world`` and the payload as a search."""
    pages = [(p.endpoint, p.url) for p in probes(app, world) if p.method == "GET"]
    search = quote(payload)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in POLICY or rule.endpoint in SKIP_PAGES or rule.arguments:
            continue
        if "GET" in (rule.methods or set()):
            pages.append((rule.endpoint, f"{rule.rule}?q={search}&name={search}"))
    return pages


def _offences(body: str) -> list[str]:
    parser = _Markup()
    parser.feed(body)
    parser.close()
    return parser.offences


@pytest.mark.parametrize("payload", CORPUS)
def test_payload_is_escaped_on_every_page(app: Flask, payload: str) -> None:
    world = build_world()
    _poison(world, payload)
    readers: list[tuple[User, FlaskClient]] = []
    for user in [world.user_b, world.other_staff, *world.personas.values()]:
        client = app.test_client()
        login(client, user.email, PASSWORD)
        readers.append((user, client))
    wrong: list[str] = []
    shown = 0
    for endpoint, url in _pages(app, world, payload):
        wall = POLICY[endpoint][0] if endpoint in POLICY else ID_LESS[endpoint]
        for user, client in readers:
            if wall is not None and not set(user.roles) & wall:
                continue
            response = client.get(url)
            response.close()
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            body = response.get_data(as_text=True)
            if response.headers.get("Content-Security-Policy") != CSP:
                wrong.append(f"{url} as {user.email}: no CSP")
            wrong.extend(f"{url} as {user.email}: {o}" for o in _offences(body))
            shown += str(escape(payload)) in body
    assert wrong == []
    assert shown >= 20, "the payload was hardly rendered: the corpus proves nothing"


@pytest.mark.parametrize("payload", CORPUS[:4] + CORPUS[5:])
def test_the_detector_finds_each_payload_unescaped(payload: str) -> None:
    """Control: the same page with the payload left raw would be caught."""
    page = f'<p title="{escape(payload)}">{payload}</p><a href="{payload}">x</a>'
    assert _offences(page) != []
    assert _offences(f'<p title="{escape(payload)}">{escape(payload)}</p>') == []
