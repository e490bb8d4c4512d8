"""Backup and restore: a round trip into an empty instance keeps every row and every file."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from feedback import backup_crypto, create_app
from feedback.audit import chain
from feedback.crypto import new_key
from feedback.extensions import db
from feedback.models import AuditRecord, Base
from tests.conftest import _truncate_postgres
from tests.factories import make_submission, make_user

UPLOADED = {
    "0123456789abcdef0123456789abcdef.pdf": b"%PDF-1.7 report " + bytes(range(256)),
    "fedcba9876543210fedcba9876543210.xlsx": "安全检查表".encode() * 100,
}


def _counts() -> dict[str, int]:
    return {
        table.name: int(db.session.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def filled(app: Flask) -> Flask:
    """An instance with organisations, users, a submitted report, audit rows and uploads."""
    author = make_user(email="zhang@park.cn")
    make_submission(author, submit=True)
    make_submission(author, title="第二份材料：储罐区巡检记录不全")
    uploads = Path(app.config["UPLOAD_DIR"])
    uploads.mkdir(parents=True, exist_ok=True)
    for name, data in UPLOADED.items():
        (uploads / name).write_bytes(data)
    db.session.commit()
    return app


@pytest.fixture
def empty_instance(filled: Flask, tmp_path: Path) -> Flask:
    """A second instance (same backend) to restore into; :func:`_wipe` makes it empty."""
    url = filled.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    return create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": str(tmp_path / "restored")}
    )


def _wipe(app: Flask) -> None:
    """Make ``app``'s database a migrated, empty one."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    db.engine.dispose()
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            db.engine.dispose()
    else:
        _truncate_postgres(url)  # migrated but empty, as after `flask db upgrade`


def _invoke(app: Flask, *args: str) -> Any:
    """Run a command in ``app`` (the runner would reuse the test's own app context)."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
        db.session.remove()
        db.engine.dispose()
    return result


def test_round_trip_keeps_rows_and_files_and_is_audited(
    filled: Flask, runner: FlaskCliRunner, empty_instance: Flask, tmp_path: Path
) -> None:
    counts = _counts()
    files = _hashes(Path(filled.config["UPLOAD_DIR"]))
    archive = tmp_path / "backup.tar.gz"

    result = runner.invoke(args=["backup", "--out", str(archive)])

    assert result.exit_code == 0, result.output
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert tar.getnames()[0] == "manifest.json"
    assert manifest["tables"] == counts
    assert {
        n.removeprefix("uploads/"): f["sha256"]
        for n, f in manifest["files"].items()
        if n.startswith("uploads/")
    } == files
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "backup")).one()
    assert (
        json.loads(audit.detail or "")["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    )

    _wipe(empty_instance)
    restored = _invoke(empty_instance, "restore", str(archive))

    assert restored.exit_code == 0, restored.output
    assert "与备份清单一致" in restored.output
    with empty_instance.app_context():
        after = _counts()
        actions = db.session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)).all()
        verification = chain.verify(db.session)
        db.session.remove()
        db.engine.dispose()
    assert after == {**counts, "audit_record": counts["audit_record"] + 1}
    assert actions[-1] == "restore"
    assert verification.ok
    assert _hashes(Path(empty_instance.config["UPLOAD_DIR"])) == files


def _rewrite(archive: Path, out: Path, change: str) -> None:
    """Copy ``archive`` with one upload's bytes changed (the manifest left as it was)."""
    with tarfile.open(archive) as source, tarfile.open(out, "w:gz") as target:
        for member in source:
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == change:
                data = data[:-1] + b"X"
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))


@pytest.mark.parametrize("damage", ["truncate", "flip", "tamper"])
def test_damaged_archive_is_refused_before_anything_is_touched(
    filled: Flask, runner: FlaskCliRunner, empty_instance: Flask, tmp_path: Path, damage: str
) -> None:
    archive = tmp_path / "backup.tar.gz"
    assert runner.invoke(args=["backup", "--out", str(archive)]).exit_code == 0
    bad = tmp_path / "bad.tar.gz"
    data = archive.read_bytes()
    if damage == "truncate":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        middle = len(data) // 2
        bad.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    else:
        _rewrite(archive, bad, "uploads/0123456789abcdef0123456789abcdef.pdf")
    _wipe(empty_instance)

    result = _invoke(empty_instance, "restore", str(bad))

    assert result.exit_code == 1
    assert "备份文件已损坏" in result.output
    if damage == "tamper":
        assert "0123456789abcdef0123456789abcdef.pdf" in result.output
        assert "SHA-256" in result.output
    assert not Path(empty_instance.config["UPLOAD_DIR"]).exists()
    with empty_instance.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditRecord)) in (0, None)
        db.session.remove()
        db.engine.dispose()


def test_restore_refuses_an_instance_with_data(
    filled: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    archive = tmp_path / "backup.tar.gz"
    assert runner.invoke(args=["backup", "--out", str(archive)]).exit_code == 0
    counts = _counts()
    result = runner.invoke(args=["restore", str(archive)])
    assert result.exit_code == 1
    assert "只能恢复到空实例" in result.output
    assert _counts() == counts


MARKER = "第二份材料：储罐区巡检记录不全"


def _encrypted_backup(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> tuple[Path, str]:
    key = new_key()
    app.config["BACKUP_KEY"] = key
    archive = tmp_path / "backup.tar.gz.enc"
    result = runner.invoke(args=["backup", "--out", str(archive)])
    assert result.exit_code == 0, result.output
    assert "已加密" in result.output
    return archive, key


def test_encrypted_backup_hides_the_content_and_restores_with_the_key(
    filled: Flask, runner: FlaskCliRunner, empty_instance: Flask, tmp_path: Path
) -> None:
    counts = _counts()
    files = _hashes(Path(filled.config["UPLOAD_DIR"]))
    archive, key = _encrypted_backup(filled, runner, tmp_path)

    data = archive.read_bytes()
    assert data.startswith(b"FBKENC01")
    assert MARKER.encode() not in data and b"manifest.json" not in data
    with pytest.raises(tarfile.TarError), tarfile.open(archive):
        pass
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "backup")).one()
    assert json.loads(audit.detail or "")["encrypted"] is True

    _wipe(empty_instance)
    empty_instance.config["BACKUP_KEY"] = key
    restored = _invoke(empty_instance, "restore", str(archive))

    assert restored.exit_code == 0, restored.output
    with empty_instance.app_context():
        after = _counts()
        db.session.remove()
        db.engine.dispose()
    assert after == {**counts, "audit_record": counts["audit_record"] + 1}
    assert _hashes(Path(empty_instance.config["UPLOAD_DIR"])) == files


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no key", "此备份已加密"),
        ("wrong key", "无法通过认证"),
        ("flip header", "无法通过认证"),
        ("flip body", "无法通过认证"),
        ("flip last byte", "无法通过认证"),
        ("truncate", "备份文件"),
        ("drop last record", "无法通过认证"),
        ("append", "备份文件"),
    ],
)
@pytest.mark.usefixtures("small_chunks")
def test_tampered_or_unkeyed_encrypted_backup_is_refused(
    filled: Flask,
    runner: FlaskCliRunner,
    empty_instance: Flask,
    tmp_path: Path,
    damage: str,
    message: str,
) -> None:
    archive, key = _encrypted_backup(filled, runner, tmp_path)
    data = archive.read_bytes()
    header = backup_crypto.HEADER.size
    if damage == "flip header":
        data = data[:20] + bytes([data[20] ^ 1]) + data[21:]  # the salt
    elif damage == "flip body":
        data = data[: header + 40] + bytes([data[header + 40] ^ 1]) + data[header + 41 :]
    elif damage == "flip last byte":
        data = data[:-1] + bytes([data[-1] ^ 1])
    elif damage == "truncate":
        data = data[: len(data) - 7]
    elif damage == "drop last record":
        data = _without_last_record(data, header)
    elif damage == "append":
        data = data + data[header:]
    bad = tmp_path / "bad.enc"
    bad.write_bytes(data)
    _wipe(empty_instance)
    if damage != "no key":
        empty_instance.config["BACKUP_KEY"] = new_key() if damage == "wrong key" else key

    result = _invoke(empty_instance, "restore", str(bad))

    assert result.exit_code == 1
    assert message in result.output
    assert not Path(empty_instance.config["UPLOAD_DIR"]).exists()
    with empty_instance.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditRecord)) in (0, None)
        db.session.remove()
        db.engine.dispose()


def _without_last_record(data: bytes, header: int) -> bytes:
    """The encrypted archive cut after its second-to-last record (a clean truncation)."""
    offsets, position = [], header
    while position < len(data):
        offsets.append(position)
        (length,) = backup_crypto.LENGTH.unpack(data[position : position + 4])
        position += 4 + length
    assert len(offsets) >= 2, "the archive must span several records"
    return data[: offsets[-1]]


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup_crypto, "CHUNK", 4096)


@pytest.mark.usefixtures("small_chunks")
def test_passphrase_backup_round_trips_through_the_file_option(
    filled: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    source = tmp_path / "plain.bin"
    source.write_bytes(MARKER.encode() * 5000)  # several chunks
    secret = backup_crypto.BackupSecret(passphrase="正确的备份口令-correct horse")
    sealed, opened = tmp_path / "sealed", tmp_path / "opened"

    backup_crypto.encrypt_file(source, sealed, secret)
    backup_crypto.decrypt_file(sealed, opened, secret)

    assert opened.read_bytes() == source.read_bytes()
    assert MARKER.encode() not in sealed.read_bytes()
    wrong = backup_crypto.BackupSecret(passphrase="错误的备份口令-wrong horse!")
    with pytest.raises(backup_crypto.BackupCryptoError, match="无法通过认证"):
        backup_crypto.decrypt_file(sealed, tmp_path / "x", wrong)
    assert not (tmp_path / "x").exists()  # nothing half-decrypted is left behind
    with pytest.raises(backup_crypto.BackupCryptoError, match="过短"):
        backup_crypto.encrypt_file(source, sealed, backup_crypto.BackupSecret(passphrase="短"))

    phrase = tmp_path / "phrase.txt"
    phrase.write_text("正确的备份口令-correct horse\n", "utf-8")
    archive = tmp_path / "b.enc"
    result = runner.invoke(args=["backup", "--out", str(archive), "--passphrase-file", str(phrase)])
    assert result.exit_code == 0, result.output
    assert backup_crypto.is_encrypted(archive)


def test_encrypt_without_a_key_is_refused(
    filled: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(args=["backup", "--out", str(tmp_path / "b"), "--encrypt"])
    assert result.exit_code == 1
    assert "FEEDBACK_BACKUP_KEY" in result.output
    assert not (tmp_path / "b").exists()
