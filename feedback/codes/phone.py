"""Mainland China phone numbers: normalisation, validation and masking for logs.

Accepted input, after all whitespace (including U+3000) is removed and full-width digits,
plus signs, parentheses and dash-like characters (－ – — ‐ − etc.) are made ASCII:

Mobile
    11 digits ``1[3-9]XXXXXXXXX``, optionally preceded by ``+86``, ``0086`` or ``86``,
    with any dashes or one pair of parentheses, e.g. ``138-1234-5678``,
    ``(+86)13812345678``.  Canonical form: the 11 digits.

Landline
    ``0`` + area code + a 7–8 digit local number.  Area codes follow the national plan:
    ``10`` and ``20``–``29`` have two digits, codes starting ``3``–``9`` have three, and
    ``00``/``01x`` (other than ``010``) are rejected.  The area code may be in
    parentheses (``(010)12345678``) and dashes may appear anywhere, e.g. ``010-12345678``,
    ``0512-6868-1234``, ``051268681234``.  With an explicit ``+86``/``0086`` the leading
    ``0`` may be dropped (``+86 10 12345678``).

    An extension of 1–6 digits may follow the local number, either after ``转`` or
    ``分机`` (``010-12345678转123``) or after a dash (``010-12345678-123``).  A dash
    introduces an extension only when more than 8 digits follow the area code and exactly
    7 or 8 of them come before the last dash; an unbroken run of 9+ digits is rejected.

    Canonical form: the area code with its ``0`` (``0AA`` or ``0AAA``), a dash, the
    local digits, then ``-EXT`` if there is an extension: ``010-12345678-123``.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["PHONE_ERROR", "mask_phone", "normalise_phone", "phone_error"]

PHONE_ERROR: Final = (
    "联系电话格式不正确：请填写11位手机号（如13812345678）或带区号的固定电话（如010-12345678）。"
)

_DASHES: Final = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_TRANSLATION: Final[dict[int, int]] = {
    **{0xFF10 + digit: ord("0") + digit for digit in range(10)},
    ord("＋"): ord("+"),
    ord("（"): ord("("),
    ord("）"): ord(")"),
    **{ord(dash): ord("-") for dash in _DASHES},
}

# [0-9] rather than \d: \d also matches non-ASCII digits such as Arabic-Indic ones.
_MOBILE: Final = re.compile(r"1[3-9][0-9]{9}")
# At most one pair of parentheses, not nested, '(' before ')'.
_PARENTHESES: Final = re.compile(r"[^()]*(?:\([^()]*\))?[^()]*")
_MAIN_PART: Final = re.compile(r"\+?[0-9][0-9-]*")
_EXTENSION: Final = re.compile(r"[0-9]{1,6}")
_EXTENSION_MARKER: Final = re.compile(r"转|分机")
_LOCAL_LENGTHS: Final = (7, 8)


def _clean(raw: str) -> str:
    """Return ``raw`` with ASCII punctuation/digits and without any whitespace."""
    return "".join(raw.translate(_TRANSLATION).split())


def _area_code_length(digits: str) -> int | None:
    """Return the length of the area code including its leading 0, or None if invalid."""
    if len(digits) < 3 or digits[0] != "0":
        return None
    if digits[1:3] == "10" or digits[1] == "2":
        return 3
    if digits[1] in "3456789":
        return 4
    # 00 is the international prefix; no area code other than 10 starts with 1.
    return None


def _landline(main: str, extension: str | None) -> str | None:
    """Return the canonical landline for ``main`` (digits and single dashes), or None.

    ``extension`` is one already split off after 转/分机; otherwise a dash after the local
    number may introduce one.
    """
    digits = main.replace("-", "")
    area_length = _area_code_length(digits)
    if area_length is None or len(digits) <= area_length:
        return None
    # Walk past the area code's digits in the dashed string to find where the rest starts;
    # the user's own dash placement inside the area code is not trusted.
    seen = index = 0
    while seen < area_length:
        if main[index] != "-":
            seen += 1
        index += 1
    area, rest = digits[:area_length], main[index:].lstrip("-")

    if len(rest.replace("-", "")) not in _LOCAL_LENGTHS:
        # Only a dash can separate the local number from an extension: an unbroken run of
        # 9+ digits is ambiguous.  Any extension is therefore after the last dash.
        if extension is not None or "-" not in rest:
            return None
        rest, extension = rest.rsplit("-", 1)
        if len(rest.replace("-", "")) not in _LOCAL_LENGTHS:
            return None
        if not _EXTENSION.fullmatch(extension):
            return None

    canonical = f"{area}-{rest.replace('-', '')}"
    return f"{canonical}-{extension}" if extension else canonical


def normalise_phone(raw: str) -> str | None:
    """Return the canonical form of a mainland mobile or landline number, or None if invalid.

    See the module docstring for what is accepted and the canonical forms.
    """
    cleaned = _clean(raw)

    extension: str | None = None
    parts = _EXTENSION_MARKER.split(cleaned)
    if len(parts) > 2:
        return None
    if len(parts) == 2:
        cleaned, extension = parts
        if not _EXTENSION.fullmatch(extension):
            return None

    if not _PARENTHESES.fullmatch(cleaned):
        return None
    # Parentheses only group the area or country code, so treat them like dashes.
    main = re.sub(r"-+", "-", cleaned.replace("(", "-").replace(")", "-")).strip("-")
    if not _MAIN_PART.fullmatch(main):
        return None

    international = False
    for prefix in ("+86", "0086"):
        if main.startswith(prefix):
            main = main.removeprefix(prefix).lstrip("-")
            international = True
            break
    if main.startswith("+"):
        return None  # another country's code

    digits = main.replace("-", "")
    if extension is None:
        if _MOBILE.fullmatch(digits):
            return digits
        # "86" without + or 00 is only unambiguous in front of a mobile number.
        if not international and digits.startswith("86") and _MOBILE.fullmatch(digits[2:]):
            return digits[2:]

    if international and not main.startswith("0"):
        main = "0" + main  # +86 numbers drop the domestic trunk prefix
    return _landline(main, extension)


def phone_error(raw: str) -> str | None:
    """Return None if ``raw`` is a valid phone number, else a message for the form user."""
    return None if normalise_phone(raw) is not None else PHONE_ERROR


def mask_phone(phone: str) -> str:
    """Return ``phone`` with the middle of the number hidden, for logs.

    Mobiles become ``138****5678``; landlines keep the area code, the last four local
    digits and any extension (``010-****5678``).  Exactly four asterisks are used so the
    mask does not reveal a local number's length.  Input that is not a valid phone number
    becomes ``****`` rather than being logged as typed.
    """
    canonical = normalise_phone(phone)
    if canonical is None:
        return "****"
    if "-" not in canonical:
        return f"{canonical[:3]}****{canonical[-4:]}"
    area, local, *extension = canonical.split("-")
    return "-".join([area, f"****{local[-4:]}", *extension])
