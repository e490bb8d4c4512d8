"""Redirect targets taken from a form never leave the site (ASVS 5 3.7.2; SECURITY.md row 30).

Login's ``next`` is covered in tests/auth/test_login.py (with the full list of tricks in
``test_is_safe_local_path``); these are the other forms that send a user back somewhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.conftest import csrf_token, login
from tests.factories import PASSWORD
from tests.security.conftest import World

EVIL = ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example"]


@pytest.mark.parametrize("target", EVIL)
@pytest.mark.parametrize(
    ("url", "field", "form"),
    [
        ("/review/{submission}/assign", "back", {"assignee": "me"}),
        ("/review/consolidated/sources", "back", {"consolidated_id": "{suggestion}"}),
        ("/language", "next", {"lang": "en"}),
    ],
)
def test_form_redirect_stays_on_the_site(
    app: Flask, world: World, url: str, field: str, form: dict[str, str], target: str
) -> None:
    client = app.test_client()
    login(client, world.other_staff.email, PASSWORD)
    data = {k: v.format(**world.ids) for k, v in form.items()}
    data |= {field: target, "csrf_token": csrf_token(client, "/notifications")}
    response = client.post(url.format(**world.ids), data=data)
    assert response.status_code in (302, 303), response.status_code
    location = urlsplit(response.headers["Location"])
    assert not location.netloc and not location.scheme, response.headers["Location"]
    assert response.headers["Location"].startswith("/")
    assert "evil" not in response.headers["Location"]
