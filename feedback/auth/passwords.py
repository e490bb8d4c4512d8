"""Password hashing (Argon2id) and the password policy (等保 L3, SECURITY.md rows 1–2)."""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

MIN_LENGTH = 8
MAX_LENGTH = 256  # bounds the hashing work per attempt; 64-character passphrases fit easily
# A passphrase this long is strong without the character-class rule.
PASSPHRASE_LENGTH = 16

# Production parameters: above OWASP's Argon2id minimum (m ≥ 19 MiB, t ≥ 2, p = 1).
_PRODUCTION = PasswordHasher(time_cost=3, memory_cost=32 * 1024, parallelism=1)
# Tests create hundreds of users; the cheapest legal parameters keep the suite fast.
_FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "passw0rd", "p@ssw0rd", "p@ssword", "qwerty123", "qwe123456",
        "1qaz2wsx", "1qaz@wsx", "1q2w3e4r", "1q2w3e4r5t", "abc12345", "abcd1234", "a1234567",
        "aa123456", "abc@123", "admin123", "admin@123", "admin888", "root1234", "test1234",
        "iloveyou", "welcome1", "letmein1", "zxcvbnm1", "asdf1234", "qazwsx123", "woaini1314",
        "5201314a", "huawei123", "changeme", "changeme1", "p@ssw0rd1", "admin@1234",
    }
)  # fmt: skip
CONTEXT_WORDS = ("admin", "feedback", "cpcif", "shihua", "huagong", "yuanqu", "anquan")


def hasher() -> PasswordHasher:
    """The hasher for the running app (fast parameters only under testing)."""
    return _FAST if current_app.config.get("ARGON2_FAST") else _PRODUCTION


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``."""
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches; never raises for a wrong or malformed hash."""
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash was made with other parameters than the current ones."""
    return hasher().check_needs_rehash(password_hash)


def _classes(password: str) -> int:
    lower = any(c.islower() and c.isascii() for c in password)
    upper = any(c.isupper() and c.isascii() for c in password)
    digit = any(c.isdigit() for c in password)
    other = any(not (c.isascii() and c.isalnum()) for c in password)
    return sum((lower, upper, digit, other))


def password_problems(
    password: str, *, email: str = "", context: tuple[str, ...] = ()
) -> list[str]:
    """What is wrong with ``password`` as a new password, in Chinese; empty when acceptable."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(_("密码至少需要 %(n)d 个字符。", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_("密码不能超过 %(n)d 个字符。", n=MAX_LENGTH))
    if len(password) < PASSPHRASE_LENGTH and _classes(password) < 3:
        problems.append(
            _(
                "密码需包含大写字母、小写字母、数字、符号中的至少三类"
                "（或使用 %(n)d 个字符以上的长口令）。",
                n=PASSPHRASE_LENGTH,
            )
        )
    folded = password.casefold()
    local_part = email.split("@")[0].casefold()
    words = [w.casefold() for w in (*CONTEXT_WORDS, *context) if len(w) >= 4]
    if local_part and len(local_part) >= 4:
        words.append(local_part)
    if folded in COMMON_PASSWORDS or folded == email.casefold():
        problems.append(_("该密码过于常见，请换一个不易猜到的密码。"))
    elif any(word in folded for word in words):
        problems.append(_("密码不能包含账号名、单位名称或系统名称等容易猜到的词。"))
    return problems


def generate_one_time_password() -> str:
    """A random 16-character password that meets the policy (given to a person once)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(14))
        candidate += secrets.choice("!@#%^*-_=+") + secrets.choice(string.digits)
        if _classes(candidate) == 4:
            return candidate
