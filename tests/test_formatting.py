"""Template helpers: Beijing time, file sizes, menus' options."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, render_template_string

from feedback.formatting import filesize, localtime, options


def test_localtime_is_beijing_time() -> None:
    assert localtime(datetime(2026, 11, 28, 16, 5, tzinfo=UTC)) == "2026-11-29 00:05"
    assert localtime(None) == ""


def test_filesize() -> None:
    assert [filesize(n) for n in (812, 46_080, 3_355_443)] == ["812 B", "45 KB", "3.2 MB"]


def test_options_escape_and_select_by_text() -> None:
    html = options([(1, "<b>甲</b>"), (2, '乙"')], selected=2)
    assert html == (
        '<option value="1">&lt;b&gt;甲&lt;/b&gt;</option>'
        '<option value="2" selected>乙&#34;</option>'
    )
    assert "selected" not in options([(1, "甲")]) and "selected" not in options([(1, "甲")], "")


def test_options_in_a_template_are_not_escaped_twice(app: Flask) -> None:
    with app.test_request_context("/"):
        out = render_template_string("{{ options(c, 'a&b') }}", c=[("a&b", "x<y")])
    assert out == '<option value="a&amp;b" selected>x&lt;y</option>'
