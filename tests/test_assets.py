"""Versioned static URLs cached for a year, compressed pages, secrets never compressed."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import brotli
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from feedback.models import Role
from tests.conftest import login
from tests.factories import PASSWORD, make_user

STATIC = Path(__file__).resolve().parent.parent / "static"
CSS = "vendor/bootstrap/css/bootstrap.min.css"


def _version(filename: str) -> str:
    return hashlib.sha256((STATIC / filename).read_bytes()).hexdigest()[:12]


def _logged_in(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)


def _fetch(client: FlaskClient, url: str, **headers: str) -> TestResponse:
    """GET ``url``, read the whole body and close the file a static response streams from."""
    response = client.get(url, headers=headers)
    response.get_data()
    response.close()
    return response


def test_pages_link_static_files_with_their_content_version(client: FlaskClient) -> None:
    page = client.get("/auth/login").get_data(as_text=True)

    assert f"/static/{CSS}?v={_version(CSS)}" in page
    assert f"/static/js/app.js?v={_version('js/app.js')}" in page


def test_versioned_static_file_is_cached_for_a_year(client: FlaskClient) -> None:
    response = _fetch(client, f"/static/{CSS}?v={_version(CSS)}")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_static_file_under_an_old_version_is_revalidated(client: FlaskClient) -> None:
    stale = _fetch(client, f"/static/{CSS}?v=000000000000")
    bare = _fetch(client, f"/static/{CSS}")

    assert stale.headers["Cache-Control"] == "no-cache"
    assert bare.headers["Cache-Control"] == "no-cache"
    again = _fetch(client, f"/static/{CSS}", **{"If-None-Match": bare.headers["ETag"]})
    assert again.status_code == 304


def test_static_text_is_compressed_for_browsers_that_accept_it(client: FlaskClient) -> None:
    plain = (STATIC / CSS).read_bytes()

    zipped = _fetch(client, f"/static/{CSS}?v={_version(CSS)}", **{"Accept-Encoding": "gzip"})
    squeezed = _fetch(client, f"/static/{CSS}", **{"Accept-Encoding": "gzip, deflate, br"})

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain
    assert squeezed.headers["Content-Encoding"] == "br"
    assert brotli.decompress(squeezed.get_data()) == plain
    assert len(squeezed.get_data()) < len(plain) / 4


def test_pages_are_gzip_compressed(client: FlaskClient) -> None:
    _logged_in(client)

    response = client.get("/", headers={"Accept-Encoding": "gzip"})

    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert "<html" in gzip.decompress(response.get_data()).decode()


def test_nothing_is_compressed_for_a_browser_that_does_not_ask(client: FlaskClient) -> None:
    response = client.get("/auth/login", headers={"Accept-Encoding": "identity"})

    assert "Content-Encoding" not in response.headers
    assert "<html" in response.get_data(as_text=True)


def test_a_page_showing_a_secret_is_never_compressed(app: Flask, client: FlaskClient) -> None:
    staff = make_user(Role.REVIEWER, mfa=False)
    login(client, staff.email, PASSWORD)

    response = client.get("/auth/mfa/setup", headers={"Accept-Encoding": "gzip, br"})

    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    # The key to type in by hand is on the page, in the clear bytes that were sent.
    assert re.search(
        r'id="mfa-secret">[A-Z2-7]{4}( [A-Z2-7]{4}){3,}<', response.get_data(as_text=True)
    )
