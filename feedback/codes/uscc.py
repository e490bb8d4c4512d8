"""Unified social credit codes (统一社会信用代码) as defined by GB 32100-2015.

A code has 18 characters:

====== ========================================================
位置    含义
====== ========================================================
1      登记管理部门代码 (registration department, e.g. ``9`` 工商)
2      机构类别代码 (category, e.g. ``1`` 企业)
3–8    登记管理机关行政区划码 (GB/T 2260 region code, 6 digits)
9–17   主体标识码 (organisation code, 9 characters)
18     校验码 (check character)
====== ========================================================

Typical prefixes are ``91`` (企业), ``51`` (社会团体) and ``11``/``12`` (机关/事业单位).
The department and category characters are deliberately not checked against a fixed list:
registration authorities have been added since 2015 and a stale list would reject real codes.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALPHABET",
    "USCC_LENGTH",
    "WEIGHTS",
    "check_character",
    "is_valid_uscc",
    "make_uscc",
    "normalise_uscc",
    "only_check_character_fails",
    "uscc_error",
]

#: Characters allowed in a code; each one's value is its index.  I, O, S, V and Z are
#: left out of the standard so they cannot be confused with 1, 0, 5, U and 2.
ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_MODULUS: Final = len(ALPHABET)  # 31, a prime
_VALUES: Final[dict[str, int]] = {char: value for value, char in enumerate(ALPHABET)}

#: Weights for positions 1–17: 3^(i−1) mod 31.
WEIGHTS: Final[tuple[int, ...]] = tuple(pow(3, i, _MODULUS) for i in range(17))

USCC_LENGTH: Final = 18

# Full-width ASCII letters and digits (Ａ–Ｚ, ａ–ｚ, ０–９) map to half-width by subtracting
# 0xFEE0; people often type codes with a Chinese IME still in full-width mode.
_FULL_WIDTH_ALNUM: Final[dict[int, int]] = {
    code_point: code_point - 0xFEE0
    for start, end in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
    for code_point in range(start, end + 1)
}

# Characters that are easily typed in place of their look-alike digits.
_LOOK_ALIKES: Final[dict[str, str]] = {"O": "0", "I": "1"}


def normalise_uscc(raw: str) -> str:
    """Return ``raw`` without any whitespace, with full-width letters/digits made half-width
    and with letters upper-cased.

    Whitespace anywhere is removed (not only at the ends) because codes are often copied
    from certificates that print them in groups.  ``str.split`` treats the ideographic
    space U+3000 and no-break spaces as whitespace, so they go too.
    """
    compact = "".join(raw.split())
    return compact.translate(_FULL_WIDTH_ALNUM).upper()


def _weighted_sum(first17: str) -> int:
    """Return Σ value·weight over the first 17 characters (already known to be legal)."""
    return sum(_VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))


def check_character(first17: str) -> str:
    """Return the check character for the first 17 characters of a code.

    Raises ``ValueError`` if ``first17`` is not exactly 17 characters long or contains a
    character outside :data:`ALPHABET` (lower-case letters included: normalise first).
    """
    if len(first17) != USCC_LENGTH - 1:
        raise ValueError(f"expected {USCC_LENGTH - 1} characters, got {len(first17)}")
    for char in first17:
        if char not in _VALUES:
            raise ValueError(f"character {char!r} is not in the USCC alphabet")
    return ALPHABET[(_MODULUS - _weighted_sum(first17) % _MODULUS) % _MODULUS]


def uscc_error(code: str) -> str | None:
    """Return ``None`` if the normalised ``code`` is valid, else a message for the form user.

    Causes are checked in this order, so the user sees the most basic problem first:
    empty input, wrong length, illegal character, non-digit region part, wrong check
    character.
    """
    if not code:
        return "请填写统一社会信用代码。"
    if len(code) != USCC_LENGTH:
        return f"统一社会信用代码应为18位，您填写了{len(code)}位，请核对。"
    for position, char in enumerate(code, start=1):
        if char not in _VALUES:
            message = (
                f"统一社会信用代码第{position}位“{char}”不是有效字符："
                "代码只由数字和大写英文字母组成，且不使用字母I、O、S、V、Z。"
            )
            if char in _LOOK_ALIKES:
                message += f"是否应为数字“{_LOOK_ALIKES[char]}”？"
            return message
    if not code[2:8].isdecimal():
        # All characters are in ALPHABET here, so isdecimal() means ASCII 0–9.
        return "统一社会信用代码第3至8位是登记管理机关的行政区划码，应为6位数字，请核对。"
    if code[-1] != check_character(code[:-1]):
        # The expected character is deliberately not shown: a typo anywhere in the code makes the
        # check fail, and "correcting" the last character would only hide it.
        return (
            "校验位不正确：按国家标准 GB 32100 校验，这个代码有输入错误。"
            "请逐位核对营业执照或登记证书上的代码。"
        )
    return None


def only_check_character_fails(code: str) -> bool:
    """Return whether the normalised ``code`` is well formed and fails only the check rule.

    Well formed means 18 characters from :data:`ALPHABET` with digits in positions 3–8.  Only
    such a code may be accepted by an administrator's override (a few early codes do not pass
    the check); anything else is certainly mistyped.
    """
    if len(code) != USCC_LENGTH or any(char not in _VALUES for char in code):
        return False
    if not code[2:8].isdecimal():
        return False
    return check_character(code[:-1]) != code[-1]


def is_valid_uscc(code: str) -> bool:
    """Return whether the normalised ``code`` is a valid unified social credit code."""
    return uscc_error(code) is None


def make_uscc(prefix17: str) -> str:
    """Return ``prefix17`` followed by its check character (for demo data and tests).

    Raises ``ValueError`` like :func:`check_character`.  The region part is not checked,
    so the result only validates if positions 3–8 of ``prefix17`` are digits.
    """
    return prefix17 + check_character(prefix17)
