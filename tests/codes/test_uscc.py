"""Tests for unified social credit codes (GB 32100-2015)."""

from __future__ import annotations

import random

import pytest

from feedback.codes.uscc import (
    ALPHABET,
    WEIGHTS,
    check_character,
    is_valid_uscc,
    make_uscc,
    normalise_uscc,
    only_check_character_fails,
    uscc_error,
)

VALID = "91110000600037341L"

DIGITS = "0123456789"


def test_alphabet_and_weights_match_the_standard() -> None:
    assert len(ALPHABET) == 31
    assert not set("IOSVZ") & set(ALPHABET)
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_valid_example() -> None:
    assert uscc_error(VALID) is None
    assert is_valid_uscc(VALID)
    assert check_character(VALID[:17]) == "L"


@pytest.mark.parametrize(
    "code",
    [
        "91110000600037341M",  # check character changed
        "91110000600037342L",  # last organisation-code digit changed
        "81110000600037341L",  # department changed
        "91110001600037341L",  # region changed
        "911100006000373410",  # check character changed to a digit
    ],
)
def test_one_character_change_is_rejected(code: str) -> None:
    assert not is_valid_uscc(code)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("", "请填写统一社会信用代码。"),
        ("9111000060003734", "统一社会信用代码应为18位，您填写了16位，请核对。"),
        (VALID + "1", "统一社会信用代码应为18位，您填写了19位，请核对。"),
        (
            "9111000060003734IL",
            "统一社会信用代码第17位“I”不是有效字符：代码只由数字和大写英文字母组成，"
            "且不使用字母I、O、S、V、Z。是否应为数字“1”？",
        ),
        (
            "91110000600O37341L",
            "统一社会信用代码第12位“O”不是有效字符：代码只由数字和大写英文字母组成，"
            "且不使用字母I、O、S、V、Z。是否应为数字“0”？",
        ),
        (
            "91110000600037341S",
            "统一社会信用代码第18位“S”不是有效字符：代码只由数字和大写英文字母组成，"
            "且不使用字母I、O、S、V、Z。",
        ),
        (
            "9111000060003734-L",
            "统一社会信用代码第17位“-”不是有效字符：代码只由数字和大写英文字母组成，"
            "且不使用字母I、O、S、V、Z。",
        ),
        (
            "91A10000600037341L",
            "统一社会信用代码第3至8位是登记管理机关的行政区划码，应为6位数字，请核对。",
        ),
        (
            "91110000600037341M",
            "校验位不正确：按国家标准 GB 32100 校验，这个代码有输入错误。"
            "请逐位核对营业执照或登记证书上的代码。",
        ),
    ],
)
def test_each_error_cause_has_its_message(code: str, expected: str) -> None:
    assert uscc_error(code) == expected


def test_check_character_message_does_not_reveal_the_expected_character() -> None:
    # Naming the "right" last character invites fixing a typo elsewhere by changing it.
    for code in ("91110000600037341M", "91110000600037342L", "91110001600037341L"):
        message = uscc_error(code)
        assert message is not None and message.startswith("校验位不正确")
        assert check_character(code[:17]) not in message.replace("GB 32100", "")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("91110000600037341M", True),  # only the check character fails
        (VALID, False),  # nothing fails
        ("OOOOOOOOOOOOOOOOOO", False),  # letters outside the alphabet
        ("9111000060003734OL", False),
        ("91A10000600037341L", False),  # region part not digits
        ("9111000060003734", False),  # too short
        ("91110000600037341LL", False),  # too long
    ],
)
def test_only_check_character_fails(code: str, expected: bool) -> None:
    assert only_check_character_fails(code) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (VALID, VALID),
        ("91110000600037341l", VALID),
        ("  9111 0000 6000 3734 1L\n", VALID),
        ("９１１１００００６０００３７３４１Ｌ", VALID),
        ("９１１１００００６０００３７３４１ｌ", VALID),
        ("\u3000911100006000\u300037341L\u3000", VALID),
        ("91110000600037341\u00a0L", VALID),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise_uscc(raw) == expected
    assert is_valid_uscc(normalise_uscc(raw))


@pytest.mark.parametrize(
    "prefix",
    ["91110000600037341", "51110000500000000", "11100000000013127", "12440300MB2C3D4E5"],
)
def test_make_uscc_round_trips(prefix: str) -> None:
    code = make_uscc(prefix)
    assert len(code) == 18
    assert code[:17] == prefix
    assert is_valid_uscc(code)
    assert check_character(code[:17]) == code[17]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "9111000060003734",  # 16 characters
        "911100006000373410",  # 18 characters
        "12440300mb2c3d4e5",  # lower-case letters
        "9111000060003734I",
        "9111000060003734O",
    ],
)
def test_check_character_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError, match=r"characters|alphabet"):
        check_character(bad)


def test_weights_detect_every_single_substitution() -> None:
    """Every single-character change alters the weighted sum mod 31.

    Changing position i from value a to value b ≠ a moves the sum by w_i·(b − a), with
    0 < |b − a| < 31.  Because 31 is prime and no weight is a multiple of 31, that product is
    never ≡ 0 (mod 31).  The check character itself has effective weight 1 and its value is
    uniquely determined, so changing it is detected too.  Verify this exhaustively.
    """
    modulus = len(ALPHABET)
    assert all(modulus % d for d in range(2, modulus))  # 31 is prime
    for weight in (*WEIGHTS, 1):
        assert all((weight * delta) % modulus for delta in range(1, modulus))


def _random_prefix(rng: random.Random) -> str:
    """Return 17 random characters with digits in the region part (positions 3–8)."""
    return (
        "".join(rng.choices(ALPHABET, k=2))
        + "".join(rng.choices(DIGITS, k=6))
        + "".join(rng.choices(ALPHABET, k=9))
    )


def test_random_codes_validate_and_every_substitution_fails() -> None:
    rng = random.Random(32100)
    for _ in range(2_000):
        code = make_uscc(_random_prefix(rng))
        assert uscc_error(code) is None, code
        # Change every position, each to a random different alphabet character.
        for position in range(len(code)):
            replacement = rng.choice(ALPHABET.replace(code[position], ""))
            mutated = code[:position] + replacement + code[position + 1 :]
            assert not is_valid_uscc(mutated), (code, mutated)
            if mutated[2:8].isdecimal():
                # The region is still well formed, so only the check rule can catch it.
                error = uscc_error(mutated)
                assert error is not None
                assert error.startswith("校验位不正确"), mutated
