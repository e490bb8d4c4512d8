"""An EICAR smoke test against a real clamd (SECURITY.md row 27), offline.

clamd (Debian's clamav-daemon) is started for the test with a signature database of one entry,
the EICAR test string as a body signature, generated here: no signature download is needed.
Skipped where clamd is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.filing import scanning
from feedback.models import Attachment, AuditRecord, Submission
from tests.filing.test_scanning import EICAR, INFECTED_PDF, _post_with
from tests.filing.test_views import PDF, _logged_in, _upload_files

CLAMD = shutil.which("clamd") or shutil.which("clamd", path="/usr/sbin:/usr/local/sbin")
START_SECONDS = 30  # one signature loads in well under a second; a loaded machine is slower


def _answers_ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(1)
            connection.connect(str(path))
            connection.sendall(b"zPING\0")
            return connection.recv(16).startswith(b"PONG")
    except OSError:
        return False


@pytest.fixture
def clamd_socket(tmp_path: Path) -> Iterator[Path]:
    """A clamd of this test's own, on a UNIX socket in ``tmp_path``, knowing only EICAR."""
    if CLAMD is None:
        pytest.skip("clamd is not installed (Debian: clamav-daemon)")
    folder = tmp_path / "clamd"
    (folder / "db").mkdir(parents=True)
    (folder / "db" / "eicar.ndb").write_text(f"Eicar-Test-Signature:0:*:{EICAR.hex()}\n")
    path = folder / "clamd.sock"
    config = folder / "clamd.conf"
    config.write_text(
        f"LocalSocket {path}\nDatabaseDirectory {folder / 'db'}\nTemporaryDirectory {folder}\n"
        f"LogFile {folder / 'clamd.log'}\nPidFile {folder / 'clamd.pid'}\nForeground yes\n"
    )
    process = subprocess.Popen([CLAMD, "-c", str(config)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _answers_ping(path):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (folder / "clamd.log").read_text() if (folder / "clamd.log").exists() else ""
                pytest.fail(f"clamd did not start: {log[-2000:]}")
            time.sleep(0.1)
        yield path
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_real_clamd_refuses_eicar_audits_it_and_passes_a_clean_file(
    app: Flask, client: FlaskClient, clamd_socket: Path
) -> None:
    # What FEEDBACK_CLAMD_SOCKET sets, and the start-up that reads it.
    app.config["CLAMD_SOCKET"] = str(clamd_socket)
    scanning.init_scanning(app)
    assert isinstance(app.extensions[scanning.EXTENSION], scanning.ClamdScanner)
    user = _logged_in(client)

    status, body = _post_with(client, INFECTED_PDF)

    assert status == 422
    assert "被病毒扫描判定为含有恶意代码（Eicar-Test-Signature" in body
    assert "园区承包商动火作业票证管理不规范" in body  # the user's text is kept
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    assert _upload_files(app) == []
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "upload_scan")).one()
    assert audit.outcome == "failure" and audit.actor_id == user.id
    detail = json.loads(audit.detail or "")
    assert detail["verdict"] == "infected"
    assert detail["signature"].startswith("Eicar-Test-Signature")  # clamd adds ".UNOFFICIAL"

    status, _body = _post_with(client, PDF)

    assert status == 303
    assert db.session.scalars(select(Attachment.size)).all() == [len(PDF)]
    assert len(_upload_files(app)) == 1
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()  # /readyz pings the same clamd
