"""Log records as one JSON object per line, with personal numbers masked (SECURITY.md row 33).

Every record the app or a library logs goes through one handler on the root logger, to stderr
(gunicorn and systemd collect it, deploy.md §9). ``LOG_FORMAT`` chooses the shape:

* ``json`` (production): ``{"time": "2026-11-28T18:30:00.123Z", "level": "WARNING", "logger":
  "feedback.auth.views", "message": "…", "request_id": "…", "user_id": 7}``, one line per record.
  ``json.dumps`` escapes CR, LF and every other control character, so a user's input can never
  start a line of its own (log injection, CWE-117); a traceback is the ``exc`` field, one string.
* ``text`` (development): the same fields, readable, with CR and LF escaped in the message too.

``request_id`` is the audit trail's (:func:`feedback.audit.services.current_request_id`), so a
log line and the audit records of its request can be joined. ``user_id`` is set only when the
request has already loaded its user: a formatter never queries the database.

Masking is defence in depth, for whatever a message might carry: 11-digit mainland mobile
numbers keep their first 3 and last 4 digits, 18-character resident ID numbers their first 3 and
last 4 characters. Secrets are kept out of logs at the source (tests/security/test_log_hygiene.py).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context

FORMATS = ("json", "text")
MOBILE = re.compile(r"(?<![0-9])((?:\+?86[- ]?)?1[3-9][0-9])([0-9]{4})([0-9]{4})(?![0-9])")
RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])([0-9]{3})([0-9]{11})([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")


def mask(text: str) -> str:
    """``text`` with mobile and resident ID numbers masked in the middle."""
    text = RESIDENT_ID.sub(lambda m: m.group(1) + "*" * 11 + m.group(3), text)
    return MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


def request_fields() -> dict[str, Any]:
    """The request id and, when already loaded, the user id of the request being served."""
    if not has_request_context():
        return {}
    from feedback.audit.services import current_request_id

    fields: dict[str, Any] = {"request_id": current_request_id()}
    user = g.get("_login_user")  # flask-login's cache: present once the request asked for it
    if user is not None and getattr(user, "is_authenticated", False):
        fields["user_id"] = user.id
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            # "+00:00" → "Z", as the audit export writes UTC times.
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
            **request_fields(),
        }
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = mask(record.exc_text)
        if record.stack_info:
            entry["stack"] = mask(self.formatStack(record.stack_info))
        line = json.dumps(entry, ensure_ascii=False, default=str)
        # Kept readable (ensure_ascii=False), but the two Unicode line separators are escaped
        # too: some log tools split lines on them.
        return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class TextFormatter(logging.Formatter):
    """A readable line for development; the message's CR and LF escaped, numbers masked."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{key}={value}" for key, value in request_fields().items())
        message = mask(record.getMessage()).replace("\r", "\\r").replace("\n", "\\n")
        line = f"{self.formatTime(record)} {record.levelname} {record.name}"
        line += f" [{context}]: {message}" if context else f": {message}"
        if record.exc_info:
            # Development only: the traceback stays readable, on the lines that follow.
            line += "\n" + mask(self.formatException(record.exc_info))
        return line


def formatter(name: str) -> logging.Formatter:
    """The formatter called ``name`` (``json`` or ``text``)."""
    return JsonFormatter() if name == "json" else TextFormatter()


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The app's handler: writes to whatever ``sys.stderr`` is when a record comes (as logging's
    last-resort handler does), and is a class of its own so a second app replaces it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def remove_handlers() -> None:
    """Take the app's handler off the root logger (tests that made a production app)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)


def init_logging(app: Flask) -> None:
    """Send every log record to stderr in ``LOG_FORMAT``; leave logging alone when it is unset."""
    name = app.config.get("LOG_FORMAT")
    if not name:
        return  # tests: pytest's own capture sees every record
    if name not in FORMATS:
        from feedback.config import ConfigError

        raise ConfigError(f"LOG_FORMAT={name!r} 无效（可选：{', '.join(FORMATS)}）。")
    from flask.logging import default_handler

    remove_handlers()
    root = logging.getLogger()
    handler = StderrHandler()
    handler.setFormatter(formatter(name))
    root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL") or logging.INFO)
    # Flask's own plain-text handler on the app's logger would write every line a second time.
    logging.getLogger(app.import_name).removeHandler(default_handler)
