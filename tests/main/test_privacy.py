"""The privacy notice (个人信息保护说明): public, linked, drawn from the registry (row 38)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from feedback import privacy
from tests.conftest import login
from tests.factories import PASSWORD, make_user


def test_the_notice_is_public_and_lists_every_personal_column(client: FlaskClient) -> None:
    response = client.get("/privacy")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1" in body and "个人信息保护说明" in body
    for column in privacy.PERSONAL.values():
        assert str(column.label) in body and str(column.retention) in body
    for label in privacy.CLASS_LABELS.values():
        assert str(label) in body
    assert "审计记录当前保存 365 天" in body
    assert "中国石油和化学工业联合会安全管理员" in body  # the contact, by default


def test_the_configured_contact_is_shown(app: Flask, client: FlaskClient) -> None:
    app.config["PRIVACY_CONTACT"] = "信息安全管理员 privacy@cpcif.example.cn"
    body = client.get("/privacy").get_data(as_text=True)
    assert "信息安全管理员 privacy@cpcif.example.cn" in body


def test_the_login_page_and_every_page_footer_link_to_it(client: FlaskClient) -> None:
    assert 'href="/privacy"' in client.get("/auth/login").get_data(as_text=True)
    login(client, make_user().email, PASSWORD)
    assert 'href="/privacy"' in client.get("/").get_data(as_text=True)
