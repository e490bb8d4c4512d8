"""Password hashing and policy."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from flask import Flask

from feedback.auth import passwords


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("Abcdef1!", True),
        ("abcdefg1!", True),  # lower, digit, symbol
        ("abcdefgh", False),  # one class
        ("abcdefg1", False),  # two classes
        ("Ab1!", False),  # too short
        ("correct horse battery staple", True),  # long passphrase
        ("安全生产责任体系2026年度报送", True),  # Chinese passphrase (16)
        ("Password1", False),  # common
        ("P@ssw0rd", False),  # common
        ("Admin-2026!", False),  # context word
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
