"""Tests for mainland China phone number normalisation, validation and masking."""

from __future__ import annotations

import pytest

from feedback.codes.phone import PHONE_ERROR, mask_phone, normalise_phone, phone_error

MESSAGE = (
    "联系电话格式不正确：请填写11位手机号（如13812345678）或带区号的固定电话（如010-12345678）。"
)

GOOD: list[tuple[str, str]] = [
    # Mobiles
    ("13812345678", "13812345678"),
    ("19912345678", "19912345678"),
    ("14712345678", "14712345678"),
    ("138 1234 5678", "13812345678"),
    ("138-1234-5678", "13812345678"),
    ("+8613812345678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"),
    ("+86-138-1234-5678", "13812345678"),
    ("(+86)13812345678", "13812345678"),
    ("8613812345678", "13812345678"),
    ("008613812345678", "13812345678"),
    ("１３８１２３４５６７８", "13812345678"),
    ("＋８６　１３８１２３４５６７８", "13812345678"),
    ("\u300013812345678\u3000", "13812345678"),
    # Landlines with a two-digit area code
    ("010-12345678", "010-12345678"),
    ("01012345678", "010-12345678"),
    ("010 12345678", "010-12345678"),
    ("(010)12345678", "010-12345678"),
    ("(010) 1234 5678", "010-12345678"),
    ("（０１０）１２３４５６７８", "010-12345678"),
    ("010－12345678", "010-12345678"),
    ("010\u201312345678", "010-12345678"),  # en dash
    ("010\u201412345678", "010-12345678"),  # em dash
    ("010-1234-5678", "010-12345678"),
    ("020-1234567", "020-1234567"),
    ("029-88881234", "029-88881234"),
    # Landlines with a three-digit area code
    ("0512-6868 1234", "0512-68681234"),
    ("0512-68681234", "0512-68681234"),
    ("051268681234", "0512-68681234"),
    ("0755-8888123", "0755-8888123"),
    ("(0871)65551234", "0871-65551234"),
    # International format for landlines
    ("+86 10 12345678", "010-12345678"),
    ("+86-10-12345678", "010-12345678"),
    ("0086 512 6868 1234", "0512-68681234"),
    ("+86 (0)10 12345678", "010-12345678"),
    ("+86-010-12345678", "010-12345678"),
    # Extensions
    ("010-12345678转123", "010-12345678-123"),
    ("010-12345678 转 123", "010-12345678-123"),
    ("0755 8888 1234 分机 8", "0755-88881234-8"),
    ("010-12345678-123", "010-12345678-123"),
    ("010-12345678－123456", "010-12345678-123456"),
    ("0512-6868123-45", "0512-6868123-45"),
    ("(010)12345678-123", "010-12345678-123"),
]

BAD: list[str] = [
    "",
    "   ",
    "电话",
    "12345678",  # landline without area code
    "1381234567",  # mobile, 10 digits
    "138123456789",  # mobile, 12 digits
    "12812345678",  # second digit 2 is not a mobile prefix
    "10012345678",
    "+8612812345678",
    "+1 202 555 0100",  # another country
    "+44-20-12345678",
    "86 10 12345678",  # bare 86 only before a mobile
    "+86 86 13812345678",
    "00-12345678",  # 00 is the international prefix
    "0131-1234567",  # no area code 01x other than 010
    "010-123456",  # local number too short
    "010-123456789",  # local number too long
    "010123456789",
    "0512-123456",
    "035",
    "0",
    "010-12345678-1234567",  # extension too long
    "010-12345678转",
    "010-12345678转abc",
    "010-12345678转1转2",
    "010-12345678转12-3",
    "010-12345678-123转4",  # two extensions
    "13812345678转1",  # mobiles have no extension
    "13812345678-1",
    "010)12345678",
    "((010))12345678",
    "(010)(1234)5678",
    "010-12345678 ext 1",
    "010.12345678",
    "138 1234 5678 / 139 1234 5678",
    "\u0661\u0663\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",  # Arabic-Indic digits
    "010-12345678转\u0661\u0662",
]


@pytest.mark.parametrize(("raw", "canonical"), GOOD)
def test_good_numbers_normalise(raw: str, canonical: str) -> None:
    assert normalise_phone(raw) == canonical
    assert phone_error(raw) is None


@pytest.mark.parametrize(("raw", "canonical"), GOOD)
def test_canonical_form_is_a_fixed_point(raw: str, canonical: str) -> None:
    assert normalise_phone(canonical) == canonical


@pytest.mark.parametrize("raw", BAD)
def test_bad_numbers_are_rejected(raw: str) -> None:
    assert normalise_phone(raw) is None
    assert phone_error(raw) == MESSAGE


def test_error_message_constant() -> None:
    assert PHONE_ERROR == MESSAGE


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("010-12345678", "010-****5678"),
        ("0512-6868123", "0512-****8123"),
        ("010-12345678转123", "010-****5678-123"),
        ("not a phone", "****"),
        ("", "****"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked
