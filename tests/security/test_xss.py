"""XSS corpus in every user-text field, rendered on every page (SECURITY.md row 19).

The payload goes into each field people type (titles, sections, comments, organisation, user,
tag and saved-view names, consolidated suggestions, report wording, campaign text, file names)
and into the search box; then every GET page is rendered for each persona who may see it. No
page may carry the payload as markup, and every page carries the CSP that would stop an inline
script that slipped through.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from feedback.models import (
    User,
)
from feedback.security import CSP
from tests.conftest import login
from tests.factories import PASSWORD
from tests.security.conftest import World, build_world, poison
from tests.security.routes import ID_LESS, POLICY, is_api, probes

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


def _pages(app: Flask, world: World, payload: str) -> list[tuple[str, str]]:
    """(endpoint, url) of every GET page, ids from ``world`` and the payload as a search."""
    pages = [(p.endpoint, p.url) for p in probes(app, world) if p.method == "GET"]
    search = quote(payload)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in POLICY or rule.endpoint in SKIP_PAGES or rule.arguments or is_api(rule):
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
    poison(world, payload)
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
