"""Field-level encryption of secrets at rest (SECURITY.md row 39): AES-256-GCM with rotatable keys.

Keys come from ``FIELD_KEYS`` (environment ``FEEDBACK_FIELD_KEYS``): a comma-separated list of
base64url-encoded 32-byte keys. The first key encrypts; every key is tried when decrypting, so a
new key is put first, ``flask rotate-field-key`` re-encrypts every value under it, and the old key
is removed afterwards. Production refuses to start without keys (``feedback.config``); development
and tests derive one key from ``SECRET_KEY`` with HKDF, so nothing has to be configured locally.

A stored value is ``gcm1$`` followed by base64url(12-byte nonce ‖ ciphertext ‖ 16-byte tag). The
column's name is authenticated as associated data, so a ciphertext copied into another encrypted
column does not decrypt. A value that does not decrypt under any key raises
:class:`FieldKeyError`: the code fails closed rather than treating it as plaintext.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app
from sqlalchemy import String, column, select, table, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import TypeDecorator

PREFIX = "gcm1$"
KEY_BYTES = 32
NONCE_BYTES = 12
EXTENSION = "feedback.field_cipher"

# Every encrypted column: (table, primary key, column). The migration, the rotation command and
# the tests walk this list, so a new encrypted column is added here and nowhere else.
ENCRYPTED_COLUMNS: tuple[tuple[str, str, str], ...] = (("user", "id", "mfa_secret"),)


class FieldKeyError(RuntimeError):
    """A field key is missing or malformed, or a stored value does not decrypt under any key."""


def new_key() -> str:
    """A fresh random key in the form ``FEEDBACK_FIELD_KEYS`` expects."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def parse_keys(value: str | Sequence[str] | None) -> list[bytes]:
    """The keys of ``value`` (comma-separated text or a list); raises :class:`FieldKeyError`."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    keys = []
    for position, item in enumerate((i.strip() for i in items if i.strip()), start=1):
        try:
            key = base64.urlsafe_b64decode(item.encode("ascii"))
        except (ValueError, binascii.Error, UnicodeEncodeError):
            key = b""
        if len(key) != KEY_BYTES:
            raise FieldKeyError(
                f"FEEDBACK_FIELD_KEYS 的第 {position} 个密钥无效：应为 base64url 编码的 32 字节。"
                '可用 python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32))'
                '.decode())" 生成。'
            )
        keys.append(key)
    return keys


def derived_key(secret_key: str) -> bytes:
    """A field key derived from ``SECRET_KEY`` (development and tests only)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"feedback field encryption"
    ).derive(secret_key.encode("utf-8"))


class FieldCipher:
    """AES-256-GCM over text values; the first key encrypts, every key decrypts."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise FieldKeyError("没有可用的字段加密密钥（FEEDBACK_FIELD_KEYS）。")
        self.keys = tuple(keys)
        self._ciphers = [AESGCM(key) for key in keys]

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[0].encrypt(nonce, plaintext.encode("utf-8"), purpose.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, stored: str, purpose: str) -> str:
        return self._open(stored, purpose)[0]

    def is_current(self, stored: str, purpose: str) -> bool:
        """True if ``stored`` is encrypted under the first (current) key."""
        return self._open(stored, purpose)[1] == 0

    def _open(self, stored: str, purpose: str) -> tuple[str, int]:
        if not is_encrypted(stored):
            raise FieldKeyError(
                f"{purpose} 中存有未加密的值：请先运行数据库迁移（flask db upgrade）。"
            )
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX) :].encode("ascii"))
        except (ValueError, binascii.Error):
            raw = b""
        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        if len(nonce) == NONCE_BYTES and sealed:
            for index, cipher in enumerate(self._ciphers):
                try:
                    plain = cipher.decrypt(nonce, sealed, purpose.encode())
                except InvalidTag:
                    continue
                return plain.decode("utf-8"), index
        raise FieldKeyError(
            f"{purpose} 的密文无法用 FEEDBACK_FIELD_KEYS 中的任何密钥解密："
            "密钥配置有误，或数据已被改动。"
        )


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def cipher_for(app: Flask) -> FieldCipher:
    """The app's cipher, from ``FIELD_KEYS`` or (outside production) derived from SECRET_KEY."""
    keys = parse_keys(app.config.get("FIELD_KEYS"))
    if not keys:
        if app.config["ENV_NAME"] == "production":
            raise FieldKeyError(
                "生产环境必须设置 FEEDBACK_FIELD_KEYS（字段加密密钥，逗号分隔，第一个用于加密）。"
            )
        keys = [derived_key(str(app.config["SECRET_KEY"]))]
    return FieldCipher(keys)


def init_crypto(app: Flask) -> None:
    app.extensions[EXTENSION] = cipher_for(app)


def current_cipher() -> FieldCipher:
    cipher: FieldCipher = current_app.extensions[EXTENSION]
    return cipher


class EncryptedString(TypeDecorator[str]):
    """A text column stored encrypted with the app's field cipher."""

    impl = String
    cache_ok = True

    def __init__(self, length: int, purpose: str) -> None:
        super().__init__(length)
        self.purpose = purpose

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return current_cipher().encrypt(str(value), self.purpose)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return current_cipher().decrypt(str(value), self.purpose)


def purpose_of(table_name: str, column_name: str) -> str:
    return f"{table_name}.{column_name}"


def reencrypt_all(connection: Connection, cipher: FieldCipher, *, decrypt: bool = False) -> int:
    """Rewrite every encrypted column under the current key; returns the values changed.

    Plaintext left from before encryption is encrypted (the migration), a value under an older
    key is re-encrypted (rotation), one already under the current key is left alone. With
    ``decrypt=True`` every value is written back as plaintext (the migration's downgrade).
    """
    changed = 0
    for table_name, key_name, column_name in ENCRYPTED_COLUMNS:
        purpose = purpose_of(table_name, column_name)
        raw = table(table_name, column(key_name), column(column_name))
        rows = connection.execute(
            select(raw.c[key_name], raw.c[column_name]).where(raw.c[column_name].is_not(None))
        ).all()
        for key, value in rows:
            if decrypt:
                new = cipher.decrypt(value, purpose) if is_encrypted(value) else None
            elif not is_encrypted(value):
                new = cipher.encrypt(value, purpose)
            elif cipher.is_current(value, purpose):
                new = None
            else:
                new = cipher.encrypt(cipher.decrypt(value, purpose), purpose)
            if new is not None:
                connection.execute(
                    update(raw).where(raw.c[key_name] == key).values({column_name: new})
                )
                changed += 1
    return changed
