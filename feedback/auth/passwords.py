"""Password hashing (Argon2id) and the password policy (等保 L3, SECURITY.md rows 1–2)."""

from __future__ import annotations

import itertools
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from feedback.filing.text import nfc
from feedback.i18n import gettext as _

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
# The word at the heart of a common password once decoration is removed ("P@ssw0rd123!" and
# "Password2026" are both "password"): compared with the whole stem, so a long passphrase that
# merely contains one of these words is not refused.
COMMON_STEMS = frozenset(
    {
        "password", "passwd", "passw", "pass", "pwd", "qwerty", "qwertyuiop", "qwer", "qwe",
        "asdf", "asdfgh", "asdfghjkl", "zxcv", "zxcvbn", "zxcvbnm", "qaz", "qazwsx", "qazwsxedc",
        "qweasd", "qweasdzxc", "admin", "administrator", "adm", "root", "test", "tester",
        "testing", "welcome", "letmein", "iloveyou", "iloveu", "woaini", "woaiwojia", "abc",
        "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh", "aaa", "changeme", "huawei", "default",
        "guest", "user", "login", "master", "secret", "superman", "dragon", "monkey", "football",
        "sunshine", "princess", "shadow", "trustno", "whatever", "hello", "helloworld", "china",
        "beijing", "shanghai", "system", "manager", "server", "oracle", "mysql", "cisco",
        "nihao", "zhongguo", "wangluo", "anquan", "mima", "xiaoming", "a",
    }
)  # fmt: skip
# How people disguise letters; undone before the stem is compared.
_LEET_MAP = {"@": "a", "0": "o", "1": "i", "3": "e", "$": "s", "5": "s", "7": "t"}
_LEET = str.maketrans(_LEET_MAP)
_LEET_CHARACTERS = frozenset(_LEET_MAP)
# A password needs more than this many different characters ("aaaa1111" and "abcabc…" fail).
MIN_DISTINCT = 4
CONTEXT_WORDS = ("admin", "feedback", "cpcif", "shihua", "huagong", "yuanqu", "anquan")


def hasher() -> PasswordHasher:
    """The hasher for the running app (fast parameters only under testing)."""
    return _FAST if current_app.config.get("ARGON2_FAST") else _PRODUCTION


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` in NFC.

    ASVS has passwords used as given; normalising is acceptable when it is applied identically
    when the password is set and when it is checked, and NFC makes "é" typed precomposed (most
    keyboards) or decomposed (some input methods, pasted text) the same password. NFC, not
    NFKC: a full-width "Ａ" stays a different character from "A".
    """
    return hasher().hash(nfc(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches; never raises for a wrong or malformed hash.

    Its NFC form is tried first (every hash made since NFC); then, for a password that NFC
    changes, the characters as typed, which is how hashes made before were computed.
    :func:`feedback.auth.services.authenticate` then rehashes in NFC.
    """
    candidates = dict.fromkeys((nfc(password), password))
    return any(_matches(password_hash, candidate) for candidate in candidates)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def is_normalised(password: str) -> bool:
    """False for a password that NFC changes: a hash of it as typed should be redone in NFC."""
    return nfc(password) == password


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash was made with other parameters than the current ones."""
    return hasher().check_needs_rehash(password_hash)


def _classes(password: str) -> int:
    lower = any(c.islower() and c.isascii() for c in password)
    upper = any(c.isupper() and c.isascii() for c in password)
    digit = any(c.isdigit() for c in password)
    other = any(not (c.isascii() and c.isalnum()) for c in password)
    return sum((lower, upper, digit, other))


def _core(text: str) -> tuple[int, int]:
    """Where ``text`` is left once leading and trailing digits and symbols are removed."""
    start, end = 0, len(text)
    while start < end and not text[start].isalpha():
        start += 1
    while end > start and not text[end - 1].isalpha():
        end -= 1
    return start, end


def common_stem(password: str) -> bool:
    """True if ``password`` is a common word dressed up with case, leetspeak, digits or symbols.

    The decoration is stripped before leetspeak is undone ("P@ssw0rd123" → "p@ssw0rd" →
    "password"; mapping first would turn the "1" and "3" into letters). A leet character at the
    edge of the word belongs to it, though ("Welcom3!2026", "$ecret1"), so up to two of them on
    either side are tried as part of the stem.
    """
    folded = password.casefold()
    start, end = _core(folded)
    for before in range(3):
        for after in range(3):
            first, last = start - before, end + after
            if first < 0 or last > len(folded):
                continue
            if not set(folded[first:start] + folded[end:last]) <= _LEET_CHARACTERS:
                continue
            if folded[first:last].translate(_LEET) in COMMON_STEMS:
                return True
    return False


def _step(a: str, b: str) -> int:
    # Digits wrap round ("…7890123…"), as they do on the keyboard's number row.
    if a == "9" and b == "0":
        return 1
    if a == "0" and b == "9":
        return -1
    return ord(b) - ord(a)


def is_trivial_pattern(password: str) -> bool:
    """True for too few distinct characters, one repeated or sequential run, or a repeated unit.

    "1111111111111111", "abcdefghijklmnop", "1234567890123456" and "Ab1!Ab1!Ab1!Ab1!" are long
    enough to pass the length rule but are among the first things an attacker tries.
    """
    folded = password.casefold()
    if len(set(folded)) < MIN_DISTINCT:
        return True
    steps = {_step(a, b) for a, b in itertools.pairwise(folded)}
    if len(steps) == 1 and steps <= {-1, 0, 1}:
        return True
    length = len(folded)
    return any(
        length % size == 0 and folded == folded[:size] * (length // size)
        for size in range(1, min(4, length // 2) + 1)
    )


def password_problems(
    password: str, *, email: str = "", context: tuple[str, ...] = ()
) -> list[str]:
    """What is wrong with ``password`` as a new password, in Chinese; empty when acceptable."""
    password = nfc(password)  # judged as it will be hashed
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
    if password and is_trivial_pattern(password):
        problems.append(
            _("密码不能由同一字符重复、连续字符（如 1234…、abcd…）或少数几个字符组成。")
        )
    folded = password.casefold()
    local_part = email.split("@")[0].casefold()
    words = [w.casefold() for w in (*CONTEXT_WORDS, *context) if len(w) >= 4]
    if local_part and len(local_part) >= 4:
        words.append(local_part)
    if folded in COMMON_PASSWORDS or common_stem(password) or folded == email.casefold():
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
        weak = is_trivial_pattern(candidate) or common_stem(candidate)
        if _classes(candidate) == 4 and not weak:
            return candidate
