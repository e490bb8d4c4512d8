"""Malware scanning of uploads: the pluggable hook, clamd's protocol, failing closed."""

from __future__ import annotations

import io
import json
import logging
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback import create_app
from feedback.extensions import db
from feedback.filing import scanning, uploads
from feedback.models import AuditRecord, Submission
from tests.api.conftest import bearer, token_for
from tests.factories import make_submission, make_user
from tests.filing.test_views import PDF, _form, _logged_in, _upload_files

# The EICAR anti-virus test string: harmless, and detected by every scanner as "malware".
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
INFECTED_PDF = PDF + EICAR + b"\n"


class FakeScanner:
    """Finds EICAR, like clamd with its signatures; ``broken`` answers nothing."""

    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken
        self.scanned: list[bytes] = []

    def scan(self, path: Path) -> str | None:
        if self.broken:
            raise scanning.ScannerUnavailable("clamd is down")
        data = path.read_bytes()
        self.scanned.append(data)
        return "Eicar-Test-Signature" if EICAR in data else None


def _post_with(client: FlaskClient, content: bytes) -> tuple[int, str]:
    data = _form(
        client, "/submissions/new?kind=problem", attachments=[(io.BytesIO(content), "检查报告.pdf")]
    )
    response = client.post(
        "/submissions/new/problem", data=data, content_type="multipart/form-data"
    )
    return response.status_code, response.get_data(as_text=True)


def test_infected_upload_is_refused_in_chinese_and_the_text_kept(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    scanner = FakeScanner()
    scanning.install_scanner(app, scanner)
    user = _logged_in(client)

    status, body = _post_with(client, INFECTED_PDF)

    assert status == 422
    assert "“检查报告.pdf”被病毒扫描判定为含有恶意代码（Eicar-Test-Signature）" in body
    assert "园区承包商动火作业票证管理不规范" in body  # the user's text is kept
    assert scanner.scanned == [INFECTED_PDF]
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    assert _upload_files(app) == []  # not even a temporary file
    assert "malware scanner found Eicar-Test-Signature" in caplog.text
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "upload_scan")).one()
    assert audit.outcome == "failure" and audit.actor_id == user.id
    assert json.loads(audit.detail or "") == {
        "verdict": "infected",
        "signature": "Eicar-Test-Signature",
        "file": "检查报告.pdf",
    }


def test_clean_upload_passes_the_scanner(app: Flask, client: FlaskClient) -> None:
    scanner = FakeScanner()
    scanning.install_scanner(app, scanner)
    _logged_in(client)

    status, _body = _post_with(client, PDF)

    assert status == 303
    assert scanner.scanned == [PDF]
    assert len(_upload_files(app)) == 1


def test_scanner_failure_refuses_the_upload(app: Flask, tmp_path: Path) -> None:
    scanning.install_scanner(app, FakeScanner(broken=True))
    with pytest.raises(uploads.UploadRejected, match="暂时无法完成病毒扫描"):
        uploads.receive_upload(
            io.BytesIO(PDF), "报告.pdf", temp_dir=tmp_path / "tmp", max_bytes=1024
        )
    assert list((tmp_path / "tmp").iterdir()) == []


def test_api_upload_is_scanned_and_an_unavailable_scanner_is_audited(
    app: Flask, client: FlaskClient
) -> None:
    scanning.install_scanner(app, FakeScanner(broken=True))
    author = make_user()
    submission = make_submission(author)
    response = client.post(
        f"/api/v1/submissions/{submission.id}/attachments",
        data={"file": (io.BytesIO(PDF), "现场检查记录.pdf")},
        headers=bearer(token_for(author, "file")),
    )
    assert response.status_code == 422
    assert "暂时无法完成病毒扫描" in response.get_json()["errors"]["file"][0]
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "upload_scan")).one()
    assert audit.actor_id == author.id
    assert json.loads(audit.detail or "")["verdict"] == "unavailable"
    assert _upload_files(app) == []


def test_without_a_socket_nothing_scans_and_start_up_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="feedback.filing.scanning"):
        app = create_app("testing", {"UPLOAD_DIR": str(tmp_path)})
        assert app.extensions[scanning.EXTENSION] is None
        assert "not scanned" not in caplog.text  # not outside production: every command said it
        app.config["ENV_NAME"] = "production"
        scanning.init_scanning(app)
    assert "not scanned for malware" in caplog.text
    app = create_app("testing", {"UPLOAD_DIR": str(tmp_path), "CLAMD_SOCKET": "/run/clamd.ctl"})
    scanner = app.extensions[scanning.EXTENSION]
    assert isinstance(scanner, scanning.ClamdScanner)
    assert scanner.socket_path == "/run/clamd.ctl"


@pytest.fixture
def fake_clamd(tmp_path: Path) -> Iterator[tuple[str, list[bytes], list[bytes]]]:
    """A UNIX socket speaking clamd's zINSTREAM; answers are queued by the test."""
    path = str(tmp_path / "clamd.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    answers: list[bytes] = []
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                connection, _address = server.accept()
            except OSError:
                return
            with connection:
                buffer = b""
                while not buffer.startswith(b"zINSTREAM\0"):
                    buffer += connection.recv(10)
                buffer = buffer[len(b"zINSTREAM\0") :]
                data = b""
                while True:
                    while len(buffer) < 4:
                        buffer += connection.recv(4096)
                    (size,) = struct.unpack(">I", buffer[:4])
                    buffer = buffer[4:]
                    if size == 0:
                        break
                    while len(buffer) < size:
                        buffer += connection.recv(4096)
                    data, buffer = data + buffer[:size], buffer[size:]
                received.append(data)
                connection.sendall(answers.pop(0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, answers, received
    server.close()


def test_clamd_scanner_speaks_instream(
    fake_clamd: tuple[str, list[bytes], list[bytes]], tmp_path: Path
) -> None:
    path, answers, received = fake_clamd
    sample = tmp_path / "sample.pdf"
    sample.write_bytes(INFECTED_PDF * 3000)  # several chunks
    scanner = scanning.ClamdScanner(path, timeout=5)
    answers.extend(
        [
            b"stream: OK\0",
            b"stream: Eicar-Test-Signature FOUND\0",
            b"INSTREAM size limit exceeded. ERROR\0",
        ]
    )

    assert scanner.scan(sample) is None
    assert scanner.scan(sample) == "Eicar-Test-Signature"
    with pytest.raises(scanning.ScannerUnavailable):
        scanner.scan(sample)
    assert received == [sample.read_bytes()] * 3


def test_unreachable_clamd_is_unavailable(tmp_path: Path) -> None:
    sample = tmp_path / "sample.pdf"
    sample.write_bytes(PDF)
    with pytest.raises(scanning.ScannerUnavailable):
        scanning.ClamdScanner(str(tmp_path / "missing.sock"), timeout=1).scan(sample)
