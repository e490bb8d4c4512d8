"""Saved queue views and the staff dashboard."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import Role, SavedView
from feedback.review import dashboard
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_org, make_submission, make_user, plan_item


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 28), (date(2026, 10, 1), date(2027, 1, 1), "2026年第四季度")),
        (date(2026, 1, 1), (date(2026, 1, 1), date(2026, 4, 1), "2026年第一季度")),
        (date(2026, 6, 30), (date(2026, 4, 1), date(2026, 7, 1), "2026年第二季度")),
    ],
)
def test_quarters(day: date, expected: tuple[date, date, str]) -> None:
    assert dashboard.quarter_of(day) == expected


def test_dashboard_counts_sent_material_and_flags_empty_plan_items(client: FlaskClient) -> None:
    author = make_user(org=make_org(region_code="320500"))
    make_submission(author, submit=True, plan_item_ids=[plan_item("S3").id])
    make_submission(author, submit=True, plan_item_ids=[plan_item("G.T2").id])
    make_submission(author, plan_item_ids=[plan_item("E2").id])  # a draft: not counted
    staff = make_user(Role.REVIEWER)
    login(client, staff.email, PASSWORD)
    page = client.get("/review/dashboard").get_data(as_text=True)
    assert "季度报送概况" in page
    start, end, label = dashboard.quarter_of(date.today())
    board = dashboard.build(start, end, label)
    rows = {row.item.code: row.total for row in board.plan_rows}
    assert rows["S3"] == 1 and rows["S"] == 1 and rows["G"] == 1  # parents include sub-items
    assert rows["E2"] == 0  # the draft never reached the federation
    assert "E2 大型油气储存基地安全防控工程" in page.split("尚无材料的规划条目")[1]
    assert board.by_province == [("320000", 2)]


def test_saved_views_are_private(app: Flask) -> None:
    reviewer = make_user(Role.REVIEWER)
    other = make_user(Role.REVIEWER)
    client = app.test_client()
    login(client, reviewer.email, PASSWORD)
    token = csrf_token(client, "/review/")
    client.post(
        "/review/views",
        data={
            "csrf_token": token,
            "name": "苏南未分配视图",
            "province": "320000",
            "assignee": "unassigned",
            "kind": "problem",
        },
    )
    view = db.session.scalars(select(SavedView)).one()
    assert "province=320000" in view.query and "assignee=unassigned" in view.query
    assert "苏南未分配视图" in client.get("/review/").get_data(as_text=True)
    second = app.test_client()
    login(second, other.email, PASSWORD)
    assert "苏南未分配视图" not in second.get("/review/").get_data(as_text=True)
    second.post(
        f"/review/views/{view.id}/delete", data={"csrf_token": csrf_token(second, "/review/")}
    )
    assert db.session.get(SavedView, view.id) is not None  # not theirs to delete
