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
    """New POST routes are covered automatically: none is exempt."""
    app = client.application
    csrf = app.extensions["csrf"]
    assert not csrf._exempt_views and not csrf._exempt_blueprints
    assert app.config.get("WTF_CSRF_ENABLED", True)
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None
