"""CSRF protection on every state-changing form."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from feedback.models import Role
from tests.conftest import login
from tests.factories import PASSWORD, make_user


def test_login_without_token_is_refused(client: FlaskClient) -> None:
    user = make_user()
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/auth/logout",
        "/auth/password",
        "/language",
        "/admin/organisations/new",
        "/admin/users/new",
        "/admin/plan/new",
        "/admin/tags",
    ],
)
def test_state_changing_posts_need_a_token(client: FlaskClient, path: str) -> None:
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    response = client.post(path, data={"name": "x", "lang": "en"})
    assert response.status_code == 400


def test_every_post_route_is_csrf_protected(client: FlaskClient) -> None:
    """New POST routes are covered automatically: none is exempt but the bearer-token API."""
    app = client.application
    csrf = app.extensions["csrf"]
    assert not csrf._exempt_views
    assert {bp.name for bp in csrf._exempt_blueprints} == {"api"}
    assert app.config.get("WTF_CSRF_ENABLED", True)
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None


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
