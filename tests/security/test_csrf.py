"""CSRF protection on every state-changing route, generated from ``app.url_map``.

Each POST, PUT, PATCH or DELETE rule is sent without a token by a logged-in user who passes its
role wall, so that nothing but the missing token can refuse it; the answer must be the CSRF
page (400), whatever the route does with a valid token.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from feedback.models import Role, User
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_user
from tests.security.conftest import PERSONAS, World
from tests.security.routes import ID_LESS, POLICY, is_api, probes

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def test_login_without_token_is_refused(client: FlaskClient) -> None:
    user = make_user()
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_no_view_is_exempt_and_tokens_do_not_expire(client: FlaskClient) -> None:
    """New POST routes are covered automatically: none is exempt but the bearer-token API."""
    app = client.application
    csrf = app.extensions["csrf"]
    assert not csrf._exempt_views
    assert {bp.name for bp in csrf._exempt_blueprints} == {"api"}
    assert app.config.get("WTF_CSRF_ENABLED", True)
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None


def _persona_for(wall: frozenset[Role] | None) -> str:
    """A persona that passes ``wall`` (any for a public rule)."""
    return next(name for name, roles in PERSONAS.items() if wall is None or set(roles) & wall)


def _urls(app: Flask, world: World) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) of every state-changing rule, ids filled from ``world``."""
    found = [
        (p.endpoint, p.method, p.url) for p in probes(app, world) if p.method in STATE_CHANGING
    ]
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.endpoint in POLICY or is_api(rule):
            continue  # the API is exempt by design (bearer tokens): see the tests below
        values = {n: sorted(c.items)[0] for n, c in rule._converters.items() if hasattr(c, "items")}
        for method in sorted((rule.methods or set()) & STATE_CHANGING):
            found.append((rule.endpoint, method, adapter.build(rule.endpoint, values)))
    return found


def test_every_state_changing_route_needs_a_token(app: Flask, world: World) -> None:
    clients: dict[str, FlaskClient] = {}

    def client_of(persona: str) -> FlaskClient:
        if persona not in clients:
            user: User = world.personas[persona]
            clients[persona] = app.test_client()
            login(clients[persona], user.email, PASSWORD)
        return clients[persona]

    wrong = []
    urls = _urls(app, world)
    for endpoint, method, url in urls:
        wall = POLICY[endpoint][0] if endpoint in POLICY else ID_LESS[endpoint]
        response = client_of(_persona_for(wall)).open(url, method=method, data={"x": "1"})
        body = response.get_data(as_text=True)
        if response.status_code != 400 or "CSRF" not in body:
            wrong.append(f"{method} {url} ({endpoint}): {response.status_code}")
    assert wrong == []
    assert len({endpoint for endpoint, _m, _u in urls}) >= 40


def test_a_json_autosave_without_the_header_token_is_refused(app: Flask, world: World) -> None:
    client = app.test_client()
    login(client, world.user_b.email, PASSWORD)
    response = client.post("/submissions/autosave", json={"title": "x"})
    assert response.status_code == 400


def test_web_pages_keep_csrf_while_the_api_is_exempt(client: FlaskClient) -> None:
    """Exempting the API blueprint leaves a web form (a staff action) protected."""
    reviewer = make_user(Role.REVIEWER)
    login(client, reviewer.email, PASSWORD)
    assert client.post("/exports/new", data={"format": "csv"}).status_code == 400


def test_the_api_ignores_the_session_cookie(client: FlaskClient) -> None:
    """A logged-in browser's cookie gives no access to the API: a forged cross-site request
    carries no bearer token, which is why the API needs no CSRF token."""
    user = make_user()
    login(client, user.email, PASSWORD)
    response = client.post("/api/v1/submissions", json={"kind": "problem"})
    assert response.status_code == 401
    assert client.get("/api/v1/submissions").status_code == 401


def test_https_post_needs_a_same_origin_referer(client: FlaskClient) -> None:
    """Flask-WTF's SSL-strict check (SECURITY.md finding 4, row 28): over HTTPS a POST without a
    same-origin Referer is refused even with a valid token; the Referrer-Policy sent keeps it."""
    user = make_user()
    base = "https://localhost"
    page = client.get("/auth/login", base_url=base)
    assert page.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    token = csrf_token(client, "/auth/login")
    data = {"email": user.email, "password": PASSWORD, "csrf_token": token}

    missing = client.post("/auth/login", data=data, base_url=base)
    foreign = client.post(
        "/auth/login", data=data, base_url=base, headers={"Referer": "https://evil.example/"}
    )
    same = client.post(
        "/auth/login", data=data, base_url=base, headers={"Referer": f"{base}/auth/login"}
    )

    assert missing.status_code == 400 and "CSRF" in missing.get_data(as_text=True)
    assert foreign.status_code == 400
    assert same.status_code == 302
