"""Upload abuse through the filing form (SECURITY.md rows 22-25).

tests/filing/test_uploads.py checks the upload checker itself (type by content, zip bombs,
entity bombs, forged sizes, name cleaning, limits, private storage) and tests/filing/
test_views.py the spoofed-type, macro and 413 answers of the form. Here, through the form:
too many files, polyglots, and hostile names end to end (storage path and download headers).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.filing import uploads
from feedback.filing.services import MAX_ATTACHMENTS
from feedback.models import Attachment, Submission
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_user, problem_form

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>\n"
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _post(client: FlaskClient, files: list[tuple[bytes, str]], **fields: Any) -> Any:
    page = "/submissions/new?kind=problem"
    data: dict[str, Any] = {
        "csrf_token": csrf_token(client, page),
        **problem_form(idempotency_key="upload-abuse"),
        "attachments": [(io.BytesIO(content), name) for content, name in files],
        **fields,
    }
    return client.post("/submissions/new/problem", data=data, content_type="multipart/form-data")


def _stored(app: Flask) -> list[Path]:
    folder = Path(app.config["UPLOAD_DIR"])
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.fixture
def filer(client: FlaskClient) -> FlaskClient:
    login(client, make_user().email, PASSWORD)
    return client


def test_too_many_files_are_refused_before_any_is_read(
    filer: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More than the limit in one request: refused without checking 50 files first."""
    calls = []
    original = uploads.receive_upload

    def counting(*args: Any, **kwargs: Any) -> uploads.CheckedFile:
        calls.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(uploads, "receive_upload", counting)
    response = _post(filer, [(PDF, f"第{n}页.pdf") for n in range(50)])
    assert response.status_code == 422
    assert f"最多 {MAX_ATTACHMENTS} 个附件" in response.get_data(as_text=True)
    assert len(calls) <= MAX_ATTACHMENTS
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    assert _stored(filer.application) == []


def test_the_limit_itself_is_accepted(filer: FlaskClient) -> None:
    response = _post(filer, [(PDF, f"第{n}页.pdf") for n in range(MAX_ATTACHMENTS)])
    assert response.status_code in (302, 303)
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == MAX_ATTACHMENTS


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (PDF + _zip(), "整改方案.docx"),  # a PDF with an OOXML package appended
        (JPEG + _zip(), "整改方案.docx"),  # GIFAR-style: an image that is also a zip
        (HTML + PDF, "检查报告.pdf"),  # HTML first, a PDF after
        (_zip() + PDF, "检查报告.pdf"),
    ],
)
def test_polyglots_claiming_another_type_are_refused(
    filer: FlaskClient, content: bytes, name: str
) -> None:
    response = _post(filer, [(content, name)])
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    assert _stored(filer.application) == []


def test_a_pdf_that_is_also_html_is_only_ever_downloaded(filer: FlaskClient) -> None:
    """Accepted as the PDF it starts as, but a browser never renders it as a page."""
    response = _post(filer, [(PDF + HTML, "检查报告.pdf")])
    assert response.status_code in (302, 303)
    attachment = db.session.scalars(select(Attachment)).one()
    download = filer.get(f"/submissions/{attachment.submission_id}/attachments/{attachment.id}")
    download.close()
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize(
    "name",
    [
        "../../../etc/passwd.pdf",
        "..\\..\\windows\\win.ini.pdf",
        "/var/www/static/检查报告.pdf",
        "报告\x00.exe.pdf",
        "\u202egnp.pdf",
    ],
)
def test_hostile_names_stay_names(filer: FlaskClient, name: str) -> None:
    response = _post(filer, [(PDF, name)])
    assert response.status_code in (302, 303)
    attachment = db.session.scalars(select(Attachment)).one()
    assert not set(attachment.original_name) & {"/", "\\", "\x00", "\r", "\n", "\u202e"}
    folder = Path(filer.application.config["UPLOAD_DIR"]).resolve()
    (stored,) = _stored(filer.application)
    assert stored.resolve().parent == folder and stored.name == attachment.stored_name
    download = filer.get(f"/submissions/{attachment.submission_id}/attachments/{attachment.id}")
    download.close()
    disposition = download.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition
