"""Password hashing and policy."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from flask import Flask

from feedback.auth import passwords


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("Kfzw7#qm", True),
        ("mzkrtpq1!", True),  # lower, digit, symbol
        ("abcdefgh", False),  # one class
        ("mzkrtpq1", False),  # two classes
        ("Ab1!", False),  # too short
        ("correct horse battery staple", True),  # long passphrase
        ("安全生产责任体系2026年度报送", True),  # Chinese passphrase (16)
        ("我们园区的双重预防机制今年全面上线了", True),  # Chinese passphrase
        ("Lianhehui-2026!", True),
        ("Password1", False),  # common
        ("P@ssw0rd", False),  # common
        ("Admin-2026!", False),  # context word
        # Long but trivial: repeated, sequential or too few distinct characters.
        ("1111111111111111", False),
        ("aaaaaaaaaaaaaaaa", False),
        ("abcdefghijklmnop", False),
        ("ponmlkjihgfedcba", False),
        ("1234567890123456", False),
        ("9876543210987654", False),
        ("ababababababababab", False),
        ("Aa1!Aa1!Aa1!Aa1!", False),  # a repeated unit
        ("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz1", False),  # ≤ 3 distinct characters
        # A common word dressed up with case, leetspeak, digits and symbols.
        ("P@ssw0rd123", False),
        ("Password1234!", False),
        ("!Passw0rd2026", False),
        ("Qwertyuiop!23", False),
        ("Zxcvbn#2026", False),
        ("Welcom3!2026", False),
        ("Iloveyou520!", False),
        ("W0aini1314!", False),
        ("Huawei@12345", False),
        ("Abcdef1!", False),
        ("Changeme#1", False),
        ("R00t!2026x", True),  # the stem is "rootx", not a common word
    ],
)
def test_policy(app: Flask, password: str, ok: bool) -> None:
    assert (passwords.password_problems(password) == []) is ok


def test_username_is_not_a_password_part(app: Flask) -> None:
    assert passwords.password_problems("Zhanggong-1!", email="zhanggong@park.cn")


def test_sixty_four_character_chinese_password_round_trips(app: Flask) -> None:
    secret = "危险化学品安全生产规划方案实施情况反馈平台" * 3 + "一二三四五"
    assert len(secret) >= 64
    stored = passwords.hash_password(secret)
    assert passwords.verify_password(stored, secret)
    assert not passwords.verify_password(stored, secret[:-1])


def test_production_hash_is_argon2id_above_owasp_minimum(app: Flask) -> None:
    app.config["ARGON2_FAST"] = False
    stored = passwords.hash_password("Abcdef1!xyz")
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2 and params.parallelism == 1


def test_generated_passwords_meet_the_policy(app: Flask) -> None:
    for _ in range(50):
        assert passwords.password_problems(passwords.generate_one_time_password()) == []


def test_stem_list_is_broad() -> None:
    assert len(passwords.COMMON_STEMS) >= 40
    for stem in ("password", "qwerty", "asdfgh", "zxcvbn", "administrator", "letmein", "woaini"):
        assert stem in passwords.COMMON_STEMS


def test_trivial_passwords_are_explained(app: Flask) -> None:
    problems = passwords.password_problems("1234567890123456")
    assert any("连续字符" in problem for problem in problems)
