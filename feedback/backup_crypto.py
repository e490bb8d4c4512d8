"""Encryption of backup archives at rest (SECURITY.md row 39): chunked AES-256-GCM.

An encrypted archive is a 32-byte header followed by records. The header is the magic
``FBKENC01``, one byte saying how the key was made (1: from ``FEEDBACK_BACKUP_KEY`` with HKDF,
2: from a passphrase with scrypt), a 16-byte salt and a 7-byte nonce prefix. Each record is a
4-byte big-endian length and one AES-GCM sealed chunk of at most 1 MiB of the ``.tar.gz``. The
nonce of chunk *i* is the prefix, *i* (4 bytes) and a final flag (1 byte); the header is the
associated data of every chunk. So a changed byte anywhere, a changed header, reordered or
dropped chunks and a truncated file all fail authentication (the STREAM construction), and the
archive is decrypted in constant memory.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from feedback.exceptions import DomainError

MAGIC = b"FBKENC01"
KDF_KEY = 1
KDF_PASSPHRASE = 2
SALT_BYTES = 16
PREFIX_BYTES = 7
HEADER = struct.Struct(f"<8sB{SALT_BYTES}s{PREFIX_BYTES}s")
LENGTH = struct.Struct(">I")
CHUNK = 1024 * 1024
TAG_BYTES = 16
# scrypt at 2^15 × 8: 32 MiB and about 0.1 s per derivation, once per backup or restore.
SCRYPT_N = 2**15
MIN_PASSPHRASE = 16


class BackupCryptoError(DomainError):
    """The archive cannot be encrypted or decrypted; the message says why, in Chinese."""


@dataclass(frozen=True)
class BackupSecret:
    """A 32-byte key or a passphrase (at least 16 characters)."""

    key: bytes | None = None
    passphrase: str | None = None


def secret_from_config(config: Mapping[str, Any]) -> BackupSecret | None:
    """The secret in ``BACKUP_KEY`` or ``BACKUP_PASSPHRASE``, or None if neither is set."""
    if config.get("BACKUP_KEY"):
        try:
            key = base64.urlsafe_b64decode(str(config["BACKUP_KEY"]).strip().encode("ascii"))
        except (ValueError, binascii.Error, UnicodeEncodeError):
            key = b""
        if len(key) != 32:
            raise BackupCryptoError("FEEDBACK_BACKUP_KEY 无效：应为 base64url 编码的 32 字节。")
        return BackupSecret(key=key)
    if config.get("BACKUP_PASSPHRASE"):
        return BackupSecret(passphrase=str(config["BACKUP_PASSPHRASE"]))
    return None


def _derive(secret: BackupSecret, kdf: int, salt: bytes) -> bytes:
    if kdf == KDF_KEY and secret.key is not None:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=salt, info=b"feedback backup"
        ).derive(secret.key)
    if kdf == KDF_PASSPHRASE and secret.passphrase is not None:
        if len(secret.passphrase) < MIN_PASSPHRASE:
            raise BackupCryptoError(f"备份口令过短：至少 {MIN_PASSPHRASE} 个字符。")
        return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=8, p=1).derive(
            secret.passphrase.encode("utf-8")
        )
    wanted = (
        "FEEDBACK_BACKUP_KEY 密钥" if kdf == KDF_KEY else "备份口令（FEEDBACK_BACKUP_PASSPHRASE）"
    )
    raise BackupCryptoError(f"此备份是用{wanted}加密的，请提供它。")


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    return prefix + struct.pack(">I?", index, final)


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def encrypt_file(source: Path, target: Path, secret: BackupSecret) -> None:
    """Write ``source`` encrypted to ``target``."""
    kdf = KDF_KEY if secret.key is not None else KDF_PASSPHRASE
    salt, prefix = os.urandom(SALT_BYTES), os.urandom(PREFIX_BYTES)
    header = HEADER.pack(MAGIC, kdf, salt, prefix)
    cipher = AESGCM(_derive(secret, kdf, salt))
    with source.open("rb") as reader, target.open("wb") as writer:
        writer.write(header)
        index = 0
        chunk = reader.read(CHUNK)
        while True:
            following = reader.read(CHUNK)
            final = not following
            sealed = cipher.encrypt(_nonce(prefix, index, final), chunk, header)
            writer.write(LENGTH.pack(len(sealed)) + sealed)
            if final:
                return
            chunk, index = following, index + 1


def _read_record(reader: IO[bytes]) -> bytes | None:
    size = reader.read(LENGTH.size)
    if not size:
        return None
    if len(size) != LENGTH.size:
        raise BackupCryptoError("备份文件不完整（被截断）。")
    (length,) = LENGTH.unpack(size)
    if not TAG_BYTES <= length <= CHUNK + TAG_BYTES:
        raise BackupCryptoError("备份文件已损坏或被改动（记录长度异常）。")
    sealed = reader.read(length)
    if len(sealed) != length:
        raise BackupCryptoError("备份文件不完整（被截断）。")
    return sealed


def decrypt_file(source: Path, target: Path, secret: BackupSecret | None) -> None:
    """Write ``source`` decrypted to ``target``; raises :class:`BackupCryptoError` if the secret
    is missing or wrong or the file was changed, truncated or extended (``target`` is removed)."""
    tampered = "备份文件无法通过认证：密钥或口令不对，或文件已被改动。"
    try:
        with source.open("rb") as reader, target.open("wb") as writer:
            header = reader.read(HEADER.size)
            if len(header) != HEADER.size:
                raise BackupCryptoError("备份文件不完整（被截断）。")
            magic, kdf, salt, prefix = HEADER.unpack(header)
            if magic != MAGIC or kdf not in (KDF_KEY, KDF_PASSPHRASE):
                raise BackupCryptoError("不是本系统加密的备份文件。")
            if secret is None:
                raise BackupCryptoError(
                    "此备份已加密：请设置 FEEDBACK_BACKUP_KEY 或 FEEDBACK_BACKUP_PASSPHRASE，"
                    "或给出 --passphrase-file。"
                )
            cipher = AESGCM(_derive(secret, kdf, salt))
            index, sealed = 0, _read_record(reader)
            if sealed is None:
                raise BackupCryptoError("备份文件不完整（被截断）。")
            while sealed is not None:
                following = _read_record(reader)
                nonce = _nonce(prefix, index, following is None)
                try:
                    writer.write(cipher.decrypt(nonce, sealed, header))
                except InvalidTag:
                    raise BackupCryptoError(tampered) from None
                sealed, index = following, index + 1
    except BaseException:
        target.unlink(missing_ok=True)
        raise
