"""Malware scanning of uploads (SECURITY.md row 27, 等保 恶意代码防范), behind a pluggable hook.

Every upload that passed the type checks is handed to the app's scanner before it is accepted.
With ``FEEDBACK_CLAMD_SOCKET`` set, that is clamd over its UNIX socket (the ``INSTREAM``
command, so clamd needs no access to our files); the file is refused when clamd finds something
and also when clamd cannot be reached or answers an error (fail closed). Without the setting
there is no scanning, and the app says so in a warning at start-up. Tests install a fake
scanner through :func:`install_scanner`.
"""

from __future__ import annotations

import logging
import socket
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from flask import Flask, current_app, has_app_context

from feedback.i18n import gettext as _

if TYPE_CHECKING:
    from feedback.filing.uploads import UploadRejected
    from feedback.models import User

log = logging.getLogger(__name__)

EXTENSION = "feedback.scanner"
CHUNK = 64 * 1024


class ScannerUnavailable(Exception):
    """The scanner could not give a verdict (down, timed out, or answered an error)."""


class Scanner(Protocol):
    def scan(self, path: Path) -> str | None:
        """The name of what was found in ``path``, or None if it is clean.

        Raises :class:`ScannerUnavailable` when there is no verdict.
        """


class ClamdScanner:
    """clamd's ``zINSTREAM`` over a UNIX socket."""

    def __init__(self, socket_path: str, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def scan(self, path: Path) -> str | None:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(self.timeout)
                connection.connect(self.socket_path)
                connection.sendall(b"zINSTREAM\0")
                with path.open("rb") as handle:
                    for chunk in iter(lambda: handle.read(CHUNK), b""):
                        connection.sendall(struct.pack(">I", len(chunk)) + chunk)
                connection.sendall(struct.pack(">I", 0))
                reply = b""
                while not reply.endswith(b"\0"):
                    part = connection.recv(4096)
                    if not part:
                        break
                    reply += part
        except OSError as error:
            raise ScannerUnavailable(f"clamd at {self.socket_path}: {error}") from error
        answer = reply.rstrip(b"\0").decode("utf-8", "replace").strip()
        # "stream: OK", "stream: Eicar-Test-Signature FOUND" or "… ERROR".
        verdict = answer.partition(": ")[2]
        if verdict == "OK":
            return None
        if verdict.endswith(" FOUND"):
            return verdict.removesuffix(" FOUND")
        raise ScannerUnavailable(f"clamd answered {answer!r}")

    def ping(self) -> bool:
        """Whether clamd answers ``zPING`` with ``PONG`` (the readiness check, /readyz)."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(min(self.timeout, 2.0))
                connection.connect(self.socket_path)
                connection.sendall(b"zPING\0")
                reply = connection.recv(64)
        except OSError:
            return False
        return reply.rstrip(b"\0").strip() == b"PONG"


def install_scanner(app: Flask, scanner: Scanner | None) -> None:
    app.extensions[EXTENSION] = scanner


def init_scanning(app: Flask) -> None:
    """Scan through clamd when ``CLAMD_SOCKET`` is set; otherwise warn that nothing scans."""
    socket_path = app.config.get("CLAMD_SOCKET")
    if socket_path:
        install_scanner(app, ClamdScanner(str(socket_path)))
    else:
        install_scanner(app, None)
        # A warning where it matters (production); every CLI command and test would repeat it.
        log.log(
            logging.WARNING if app.config.get("ENV_NAME") == "production" else logging.DEBUG,
            "uploads are not scanned for malware: set FEEDBACK_CLAMD_SOCKET to clamd's socket",
        )


def scan_upload(path: Path, display: str) -> None:
    """Refuse ``path`` (raises UploadRejected) if the scanner finds something or cannot answer."""
    from feedback.filing.uploads import UploadRejected

    scanner: Scanner | None = current_app.extensions.get(EXTENSION) if has_app_context() else None
    if scanner is None:
        return
    try:
        found = scanner.scan(path)
    except ScannerUnavailable as error:
        log.error("upload refused: malware scanner unavailable (%s)", error)
        raise UploadRejected(
            _(
                "暂时无法完成病毒扫描，“%(name)s”未上传。请稍后再试，或联系系统管理员。",
                name=display,
            ),
            audit={"verdict": "unavailable", "file": display},
        ) from None
    if found is not None:
        log.warning("upload refused: malware scanner found %s", found)
        raise UploadRejected(
            _(
                "“%(name)s”被病毒扫描判定为含有恶意代码（%(found)s），已拒绝上传。"
                "请用杀毒软件检查后重新上传。",
                name=display,
                found=found,
            ),
            audit={"verdict": "infected", "signature": found, "file": display},
        )


def audit_rejection(rejected: UploadRejected, actor: User | None) -> None:
    """Write the audit record of a scanner verdict that refused an upload, in its own commit.

    The views call this when they catch an upload refusal, before anything else of the request
    was written (uploads are received first), so the commit holds only this record.
    """
    from feedback.audit.services import record
    from feedback.extensions import db

    if not rejected.audit:
        return
    record(
        "upload_scan", actor=actor, object_type="attachment", outcome="failure", **rejected.audit
    )
    db.session.commit()
