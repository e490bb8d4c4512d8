"""Formula-injection corpus through every export (SECURITY.md finding 1, rows 20 and 21).

Every user-text field holds a payload; each file people download is then checked as the
recipient's spreadsheet would read it: workbooks have no formula element in any sheet, every
trigger-led text cell is text with ``quotePrefix``; CSV fields never start with a trigger.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedback.audit.services import record
from feedback.extensions import db
from feedback.models import Report, User
from feedback.reports import exports
from feedback.reports import services as reports
from feedback.reports.xlsx import excel_text
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD
from tests.security.conftest import World, build_world, poison

CORPUS = [
    '=HYPERLINK("http://evil.example","点此")',
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+86-138-0000-0000",
    "-5+3",
    "\t=1+2",
    "\r\n=1+2",
    "＝1+2",
    "  =1+2",
    "\u3000＋1",
]
# The rule of SECURITY.md finding 1, written out again rather than imported from the code.
TRIGGERS = tuple("=+-@\t\r\n＝＋－＠")
BLANKS = " \t\r\n\u00a0\u3000"


def _trigger_led(text: str) -> bool:
    return text.startswith(TRIGGERS) or text.lstrip(BLANKS).startswith(TRIGGERS)


def _check_workbook(data: bytes, payload: str) -> int:
    """Assert the workbook is formula-free and defused; returns how many cells hold ``payload``."""
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        for name in package.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                body = package.read(name)
                assert not re.search(rb"<f[ >/]", body), f"formula element in {name}"
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    found = 0
    for sheet in workbook.worksheets:
        assert not _trigger_led(sheet.title), sheet.title
        for row in sheet.iter_rows():
            for cell in row:
                if not isinstance(cell.value, str):
                    continue
                if _trigger_led(cell.value):
                    assert cell.data_type == "s", (sheet.title, cell.coordinate)
                    assert cell.quotePrefix, (sheet.title, cell.coordinate, cell.value)
                found += excel_text(payload).strip() in cell.value
    workbook.close()
    return found


def _check_csv(data: bytes, payload: str) -> int:
    """Assert no CSV field starts with a trigger; returns how many fields hold ``payload``."""
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    text = data.decode("utf-8-sig")
    found = 0
    for row in csv.reader(io.StringIO(text, newline="")):
        for field in row:
            assert not _trigger_led(field), field
            found += field.startswith("'") and payload.strip() in field
    return found


def _client(app: Flask, user: User) -> FlaskClient:
    client = app.test_client()
    login(client, user.email, PASSWORD)
    return client


def _download(client: FlaskClient, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, url
    data = response.get_data()
    response.close()
    return data


@pytest.fixture(params=CORPUS)
def poisoned(app: Flask, request: pytest.FixtureRequest) -> tuple[World, str]:
    world = build_world()
    poison(world, request.param)
    return world, request.param


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_review_queue_export(app: Flask, poisoned: tuple[World, str], file_format: str) -> None:
    world, payload = poisoned
    client = _client(app, world.other_staff)
    data = {
        "csrf_token": csrf_token(client, "/exports/new"),
        "format": file_format,
        "columns": [column.key for column in exports.COLUMNS],
    }
    response = client.post("/exports/new", data=data)
    assert response.status_code == 200
    content = response.get_data()
    found = _check_workbook(content, payload) if file_format == "xlsx" else None
    found = found if found is not None else _check_csv(content, payload)
    assert found >= 2, "the payload did not reach the export"


def test_report_workbook_preview_and_frozen(app: Flask, poisoned: tuple[World, str]) -> None:
    world, payload = poisoned
    compiler = world.personas["compiler"]
    report = db.session.get(Report, world.ids["report"])
    assert report is not None
    edition = reports.freeze(compiler, report)  # the poisoned wording as a new version
    db.session.commit()
    client = _client(app, compiler)
    base = f"/reports/{report.id}"
    preview = _download(client, f"{base}/preview.xlsx")
    frozen = _download(client, f"{base}/versions/{edition.number}.xlsx")
    assert _check_workbook(preview, payload) >= 1
    assert _check_workbook(frozen, payload) >= 1


def test_audit_csv_export(app: Flask, poisoned: tuple[World, str]) -> None:
    world, payload = poisoned
    record("login_failed", actor=None, actor_email=payload[:254], object_type="user",
           object_id=payload[:64], outcome="failure", entered=payload)  # fmt: skip
    db.session.commit()
    client = _client(app, world.personas["auditor"])
    assert _check_csv(_download(client, "/audit/export.csv"), payload) >= 1


@pytest.mark.parametrize("kind", ["problem", "experience", "suggestion"])
def test_import_template_with_poisoned_plan_and_tag_names(
    app: Flask, poisoned: tuple[World, str], kind: str
) -> None:
    world, payload = poisoned
    client = _client(app, world.user_b)
    template = _download(client, f"/submissions/import/template/{kind}.xlsx")
    assert _check_workbook(template, payload) >= 1
