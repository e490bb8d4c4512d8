"""Hypothesis fuzzing of every web form never produces a 500 (SECURITY.md row 18, ASVS 5 2.2.1).

Every state-changing web rule of ``app.url_map`` is posted, with a valid CSRF token, by a user
allowed to reach its object. The fields are those of the forms that post to it, found on the
application's own GET pages (every field name of every form when no page posts to it); each is
left out, kept at the page's value, or replaced by Chinese or control-character text, a huge
string, an odd number or a list, and files get random bytes and names. Nothing may answer 500.
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from feedback.models import ORG_ROLES, Role, User
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD
from tests.security.conftest import World
from tests.security.routes import ID_LESS, POLICY, is_api, probes

ORG = frozenset(ORG_ROLES)
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
EXAMPLES = 6  # per rule: about 80 rules, the whole test well under a minute on SQLite
# The rules that change who may log in run last, so that the others keep their users.
LAST = ("admin.", "auth.")
# Within each part, the rules that remove what others work on (and the logout) come last.
DESTROY = ("/remove", "/delete", "/logout")
ODD_NUMBERS = ["²", "٣", "9" * 30, "-1", "0", "1.5", "1e309", "NaN", "inf", " 7 ", "0x10", ""]


class _Forms(HTMLParser):
    """The POST forms of one page: action path → field name → the page's values for it."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: dict[str, dict[str, list[str]]] = {}
        self.files: set[str] = set()
        self._current: dict[str, list[str]] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                action = urlsplit(urljoin(self.page, a.get("action") or self.page)).path
                self._current = self.forms.setdefault(action, {})
            return
        if self._current is None:
            return
        name = a.get("name", "")
        if tag == "button" and name:
            self._current.setdefault(name, []).append(a.get("value", ""))
        elif tag == "input" and name:
            self._current.setdefault(name, []).append(a.get("value", ""))
            if a.get("type") == "file":
                self.files.add(name)
        elif tag == "select":
            self._select = name
            self._current.setdefault(name, [])
        elif tag == "option" and self._select:
            self._current[self._select].append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self._current.setdefault(name, [])

    def handle_data(self, data: str) -> None:
        if self._current is not None and self._textarea:
            self._current[self._textarea].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _text() -> st.SearchStrategy[str]:
    chinese = st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80)
    control = st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp"])
    return st.one_of(
        st.text(max_size=40),
        st.text(st.one_of(chinese, control, st.sampled_from("<>&'\"%\\/. \t")), max_size=40),
        st.builds(lambda c, n: c * n, st.sampled_from(["长", "a", "\x00", "9"]),
                  st.sampled_from([256, 5_000, 70_000])),
        st.sampled_from(ODD_NUMBERS),
        st.integers().map(str),
        st.floats().map(str),
    )  # fmt: skip


def _value(defaults: list[str]) -> st.SearchStrategy[Any]:
    kept = [st.sampled_from(defaults)] if [d for d in defaults if d] else []
    return st.one_of(*kept, _text(), st.lists(_text(), min_size=2, max_size=3))


def _file() -> st.SearchStrategy[Any]:
    names = st.one_of(
        st.sampled_from(["报告.pdf", "a.xlsx", "../../etc/passwd", "x.exe", ".pdf", "名" * 300]),
        st.text(max_size=30),
    )
    content = st.one_of(
        st.binary(max_size=2_000), st.just(b"%PDF-1.4\n%%EOF\n"), st.just(b"PK\x03\x04" * 50)
    )
    return st.builds(lambda data, name: FileStorage(io.BytesIO(data), name), content, names)


def _fields(forms: dict[str, list[str]], files: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the fields, each with a fuzzed value (a file for file inputs)."""
    optional = {
        name: _file() if name in files else _value(values)
        for name, values in forms.items()
        if name != "csrf_token"
    }
    return st.fixed_dictionaries({}, optional=optional)


def _user_for(world: World, endpoint: str, scope: str, wall: frozenset[Role] | None) -> User:
    """A user who may reach B's object: its owner, B's submitter, or a persona past the wall."""
    if scope == "owned" and endpoint.startswith(("exports.", "review.")):
        return world.other_staff  # the export job and the saved view are theirs
    if scope in ("owned", "token"):
        return world.user_b
    if (wall is not None and wall <= ORG) or (scope == "submission" and wall is None):
        return world.user_b
    return next(u for u in world.personas.values() if wall is None or set(u.roles) & wall)


def _rules(app: Flask, world: World) -> list[tuple[str, str, str, User]]:
    """(endpoint, method, url, user) of every state-changing web rule; identity rules last."""
    found = [
        (p.endpoint, p.method, p.url, _user_for(world, p.endpoint, p.scope, p.wall))
        for p in probes(app, world)
        if p.method in STATE_CHANGING
    ]
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.endpoint in POLICY or is_api(rule) or rule.endpoint == "static":
            continue
        wall = ID_LESS[rule.endpoint]
        user = _user_for(world, rule.endpoint, "federation", wall)
        choices = {n: sorted(c.items) for n, c in rule._converters.items() if hasattr(c, "items")}
        for combo in itertools.product(*choices.values()):
            url = adapter.build(rule.endpoint, dict(zip(choices, combo, strict=True)))
            for method in sorted((rule.methods or set()) & STATE_CHANGING):
                found.append((rule.endpoint, method, url, user))
    return sorted(found, key=lambda f: (f[0].startswith(LAST), f[2].endswith(DESTROY)))


def _crawl(app: Flask, world: World, client_of: Callable[[User], FlaskClient | None]) -> _Forms:
    """The POST forms of every GET page, each fetched by a user who may see it."""
    found = _Forms("/")
    pages = [(p.url, _user_for(world, p.endpoint, p.scope, p.wall)) for p in probes(app, world)
             if p.method == "GET"]  # fmt: skip
    pages += [
        (rule.rule, _user_for(world, rule.endpoint, "federation", ID_LESS[rule.endpoint]))
        for rule in app.url_map.iter_rules()
        if not rule.arguments and "GET" in (rule.methods or set())
        and rule.endpoint not in ("static", "main.healthz", "main.readyz") and not is_api(rule)
    ]  # fmt: skip
    for url, user in pages:
        client = client_of(user)
        assert client is not None
        response = client.get(url)
        if response.mimetype == "text/html":
            found.page = url
            found.feed(response.get_data(as_text=True))
            found.close()
        response.close()
    return found


def _fuzz(
    fields: st.SearchStrategy[dict[str, Any]], send: Callable[[dict[str, Any]], None]
) -> None:
    """``send`` the forms Hypothesis draws from ``fields`` (a few, for the time budget)."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(fields)
    def run(data: dict[str, Any]) -> None:
        send(data)

    run()


def test_fuzzed_forms_never_cause_a_500(app: Flask, world: World) -> None:
    clients: dict[int, FlaskClient] = {}
    tokens: dict[int, str] = {}
    crashed: list[str] = []
    reached: dict[str, set[int]] = {}
    barred: set[str] = set()

    def client_of(user: User) -> FlaskClient | None:
        """The user's logged-in client; None once a fuzzed action barred them from logging in."""
        if user.id not in clients:
            client = app.test_client()
            if login(client, user.email, PASSWORD).status_code != 302:
                return None
            clients[user.id] = client
            tokens[user.id] = csrf_token(client, "/notifications")
        return clients[user.id]

    def send(endpoint: str, method: str, url: str, user: User, data: dict[str, Any]) -> None:
        client = client_of(user)
        if client is None:
            barred.add(endpoint)
            return
        # Encoded in memory: the test client spools a big body to a file it never closes.
        boundary, body = encode_multipart(MultiDict({**data, "csrf_token": tokens[user.id]}))
        multipart = f"multipart/form-data; boundary={boundary}"
        where = f"{method} {url} as {user.email} with {data!r}"
        try:
            response = client.open(url, method=method, data=body, content_type=multipart)
        except Exception as error:  # TESTING lets through what would have been a 500
            crashed.append(f"{where}: {error!r}")
            return
        response.close()
        if response.status_code >= 500:
            crashed.append(f"{where}: {response.status_code}")
        reached.setdefault(endpoint, set()).add(response.status_code)
        if response.status_code == 302 and response.location.startswith("/auth/login"):
            del clients[user.id]  # logged out (or sessions ended): log in again

    crawled = _crawl(app, world, client_of)
    every_field = {name: values for form in crawled.forms.values() for name, values in form.items()}
    rules = _rules(app, world)
    for endpoint, method, url, user in rules:
        form = crawled.forms.get(urlsplit(url).path, every_field)
        _fuzz(_fields(form, crawled.files), functools.partial(send, endpoint, method, url, user))

    assert crashed == []
    # The fuzz reached every view, as someone allowed in: none answered only "not found" or
    # "forbidden", and no earlier action had locked its user out.
    assert set(reached) == {endpoint for endpoint, _m, _u, _user in rules}
    assert len(reached) >= 50
    assert [e for e, codes in reached.items() if codes <= {403, 404}] == []
    assert barred == set()
