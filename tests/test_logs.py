"""Structured logs (SECURITY.md row 33): one JSON object per line, CR/LF escaped, numbers masked."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedback import create_app
from feedback.config import ConfigError
from feedback.logs import StderrHandler, init_logging, mask
from tests.conftest import login, post_form
from tests.factories import PASSWORD, make_user

log = logging.getLogger("feedback.tests")


def _json_logs(app: Flask) -> None:
    app.config["LOG_FORMAT"] = "json"
    init_logging(app)


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_a_username_with_a_line_break_yields_one_json_line(
    app: Flask, client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _json_logs(app)
    client.get("/auth/login")
    _lines(capsys)  # whatever the page logged, if anything
    response = post_form(client, "/auth/login", {"email": "a\nFAKE", "password": "x"})
    assert response.status_code == 200
    lines = _lines(capsys)
    assert len(lines) == 1, lines  # the failed login's warning, nothing else
    entry = json.loads(lines[0])
    assert entry["message"] == "login failed for a\nFAKE from 127.0.0.1"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "feedback.auth.views"
    assert entry["time"].endswith("Z") and entry["time"][10] == "T"
    assert len(entry["request_id"]) == 32
    assert "user_id" not in entry  # nobody is logged in
    assert "\\nFAKE" in lines[0]  # escaped on the line, not a line break


def test_each_line_carries_the_request_and_the_user_of_its_request(
    app: Flask, client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    from flask_login import current_user

    from feedback.audit.services import current_request_id

    @app.route("/_log_line")
    def log_line() -> str:
        log.info("seen by %s\r\nINJECTED", current_user.email)
        return current_request_id() or ""

    _json_logs(app)
    user = make_user(email="logs.user@park.cn")
    login(client, user.email, PASSWORD)
    _lines(capsys)
    response = client.get("/_log_line")
    (line,) = [line for line in _lines(capsys) if "seen by" in line]
    entry: dict[str, Any] = json.loads(line)
    assert entry["message"] == "seen by logs.user@park.cn\r\nINJECTED"
    assert entry["user_id"] == user.id
    # The same id as the request's audit records, so the two can be joined.
    assert entry["request_id"] == response.get_data(as_text=True)


def test_an_exception_is_one_line_too(
    app: Flask, client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _json_logs(app)
    try:
        raise ValueError("第一行\n第二行 13912345678")
    except ValueError:
        log.exception("failed")
    (line,) = _lines(capsys)
    entry = json.loads(line)
    assert "Traceback" in entry["exc"] and "第一行\n第二行" in entry["exc"]
    assert "139****5678" in entry["exc"] and "13912345678" not in line


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("联系人电话 13812345678。", "联系人电话 138****5678。"),
        ("tel:+8615900001111", "tel:+86159****1111"),
        ("身份证 11010519491231002X 已核验", "身份证 110***********002X 已核验"),
        ("id=110105194912310021,", "id=110***********0021,"),
        # Not phone or ID numbers: kept as they are.
        ("FK-2026-000001 12345678901", "FK-2026-000001 12345678901"),
        ("138123456789 (12 digits)", "138123456789 (12 digits)"),
        ("86-13812345678", "86-138****5678"),
        ("91310000MA1FL4B24G", "91310000MA1FL4B24G"),  # a USCC, with letters inside
    ],
)
def test_mobile_and_id_numbers_are_masked(text: str, masked: str) -> None:
    assert mask(text) == masked


def test_phone_and_id_numbers_never_reach_the_log_in_full(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("json", "text"):
        app.config["LOG_FORMAT"] = name
        init_logging(app)
        log.warning("回电 %s，证件 %s", "13812345678", "11010519491231002X")
        err = capsys.readouterr().err
        assert "138****5678" in err and "110***********002X" in err
        assert "13812345678" not in err and "11010519491231002X" not in err


def test_text_format_escapes_line_breaks(app: Flask, capsys: pytest.CaptureFixture[str]) -> None:
    app.config["LOG_FORMAT"] = "text"
    init_logging(app)
    log.warning("user %s", "a\r\nFAKE")
    (line,) = _lines(capsys)
    assert line.endswith("WARNING feedback.tests: user a\\r\\nFAKE")


def test_production_logs_json_and_a_second_app_replaces_the_handler(tmp_path: Path) -> None:
    settings = {
        "SECRET_KEY": "k" * 40,
        "TRUSTED_HOSTS": ["a.cn"],
        "FIELD_KEYS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",  # pragma: allowlist secret
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}",
        "UPLOAD_DIR": str(tmp_path / "up"),
    }
    create_app("production", settings)
    app = create_app("production", settings)
    assert app.config["LOG_FORMAT"] == "json"
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, StderrHandler)]
    assert len(handlers) == 1
    assert handlers[0].formatter.__class__.__name__ == "JsonFormatter"
    assert logging.getLogger().level == logging.INFO
    # Flask's own handler on the app's logger is gone: a line is written once.
    assert not logging.getLogger("feedback").handlers


def test_unknown_log_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        create_app(
            "testing",
            {
                "LOG_FORMAT": "xml",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                "UPLOAD_DIR": str(tmp_path / "up"),
            },
        )


# gunicorn reads the file with json.load(open(…)) and leaves it to the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_gunicorn_log_config_of_deploy_md_writes_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """deploy.md §9's file, applied as gunicorn applies ``--log-config-json``."""
    import re

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    deploy = (Path(__file__).parent.parent / "docs" / "deploy.md").read_text()
    match = re.search(r"gunicorn-logging\.json`, mode 0644:\n\n  ```json\n(.*?)  ```", deploy, re.S)
    assert match, "the gunicorn log configuration is no longer in deploy.md §9"
    path = tmp_path / "gunicorn-logging.json"
    path.write_text(match.group(1))
    config = Config()
    config.set("logconfig_json", str(path))
    config.set("accesslog", "-")
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    try:
        Logger(config).error("worker %s\nFAKE", "boot")
        (line,) = capsys.readouterr().err.splitlines()
    finally:
        root.handlers[:], _ = kept
        root.setLevel(kept[1])
        for name in ("gunicorn.error", "gunicorn.access"):
            logging.getLogger(name).handlers.clear()
    entry = json.loads(line)
    assert entry["logger"] == "gunicorn.error" and entry["message"] == "worker boot\nFAKE"
