"""Campaigns: opening a call, the home page, the tracker, reminders, late filing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.campaigns import services
from feedback.extensions import db
from feedback.filing import services as filing
from feedback.filing.kinds import Kind
from feedback.formatting import china_today
from feedback.models import Campaign, Notification, OrgKind, Role
from tests.conftest import csrf_token, login, post_form
from tests.factories import PASSWORD, make_org, make_submission, make_user


def _campaign(compiler: object, **overrides: object) -> Campaign:
    data = services.CampaignInput(
        title="2026年第四季度《规划方案》实施情况报送",
        period="2026年第四季度",
        opens_on=china_today() - timedelta(days=1),
        due_on=china_today() + timedelta(days=14),
        target_mode="parks_in_province",
        province_code="320000",
    )
    for key, value in overrides.items():
        setattr(data, key, value)
    campaign = services.create_campaign(compiler, data)  # type: ignore[arg-type]
    db.session.commit()
    return campaign


def test_parks_in_a_province_are_targeted_and_told(app: Flask) -> None:
    suzhou = make_org(region_code="320500")
    make_org(region_code="330200")  # Zhejiang: not targeted
    officer = make_user(org=suzhou)
    campaign = _campaign(make_user(Role.COMPILER))
    assert [t.id for t in campaign.targets] == [suzhou.id]
    assert campaign.target_description == "江苏省全部化工园区（1）"
    note = db.session.scalars(select(Notification).where(Notification.user_id == officer.id)).one()
    assert "新的填报任务" in note.title


def test_home_page_shows_days_left_and_what_was_filed(client: FlaskClient) -> None:
    park = make_org(region_code="320500")
    officer = make_user(org=park)
    campaign = _campaign(make_user(Role.COMPILER))
    make_submission(officer, submit=True, campaign_id=campaign.id)
    login(client, officer.email, PASSWORD)
    home = client.get("/").get_data(as_text=True)
    assert campaign.title in home and "还有 14 天" in home and "本单位已报送 1 份" in home


def test_tracker_counts_and_late_filing(app: Flask) -> None:
    compiler = make_user(Role.COMPILER)
    on_time, late_one, silent = (make_org(region_code="320500") for _ in range(3))
    campaign = _campaign(compiler)
    make_submission(make_user(org=on_time), submit=True, campaign_id=campaign.id)
    late_author = make_user(org=late_one)
    draft = make_submission(late_author, campaign_id=campaign.id, kind=Kind.PROBLEM)
    filing.submit(late_author, draft, today=campaign.due_on + timedelta(days=2))
    db.session.commit()
    assert draft.late
    rows = {r.organisation.id: r for r in services.progress(campaign)}
    assert rows[on_time.id].state == "filed" and rows[on_time.id].by_kind[Kind.PROBLEM] == 1
    assert rows[late_one.id].state == "late"
    assert rows[silent.id].state == "not_filed"


def test_reminder_reaches_only_those_who_have_not_filed(client: FlaskClient) -> None:
    compiler = make_user(Role.COMPILER)
    filed_org, silent_org = make_org(region_code="320500"), make_org(region_code="320500")
    filed_user = make_user(org=filed_org)
    silent_user = make_user(org=silent_org)
    campaign = _campaign(compiler)
    make_submission(filed_user, submit=True, campaign_id=campaign.id)
    login(client, compiler.email, PASSWORD)
    page = client.get(f"/campaigns/{campaign.id}?state=not_filed").get_data(as_text=True)
    assert silent_org.name in page and filed_org.name not in page
    response = post_form(
        client, f"/campaigns/{campaign.id}/remind", {}, page=f"/campaigns/{campaign.id}"
    )
    assert response.status_code == 303

    def reminders(user_id: int) -> int:
        return int(
            db.session.scalar(
                select(func.count()).where(
                    Notification.user_id == user_id, Notification.kind == "reminder"
                )
            )
            or 0
        )

    assert reminders(silent_user.id) == 1 and reminders(filed_user.id) == 0


def test_reminder_email_when_smtp_is_configured(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []

    class FakeSMTP:
        def __init__(self, host: str, port: int, timeout: int) -> None:
            assert host == "smtp.example.cn"

        def __enter__(self) -> FakeSMTP:
            return self

        def __exit__(self, *args: object) -> None:
            return None

        def send_message(self, message: object) -> None:
            sent.append(str(message["To"]))  # type: ignore[index]

    monkeypatch.setattr("feedback.campaigns.services.smtplib.SMTP", FakeSMTP)
    app.config["MAIL_SMTP_HOST"] = "smtp.example.cn"
    park = make_org(region_code="320500")
    make_user(org=park, email="zhang@park.cn")
    campaign = _campaign(make_user(Role.COMPILER))
    reminder = services.remind(make_user(Role.REVIEWER), campaign)
    assert reminder.organisations == 1
    assert sent == []  # nothing leaves before the commit
    db.session.commit()
    reminder.send_mail()
    assert sent == ["zhang@park.cn"]


def test_create_campaign_through_the_form(client: FlaskClient) -> None:
    compiler = make_user(Role.COMPILER)
    association = make_org(OrgKind.ASSOCIATION, region_code="110000")
    login(client, compiler.email, PASSWORD)
    response = post_form(
        client,
        "/campaigns/new",
        {
            "title": "协会季度报送",
            "period": "2026年第四季度",
            "opens_on": "2026-11-01",
            "due_on": "2026-10-01",
            "target_mode": "all_associations",
        },
    )
    assert response.status_code == 200 and "截止日期不能早于开始日期" in response.get_data(
        as_text=True
    )
    response = post_form(
        client,
        "/campaigns/new",
        {
            "title": "协会季度报送",
            "period": "2026年第四季度",
            "opens_on": "2026-11-01",
            "due_on": "2026-12-15",
            "target_mode": "all_associations",
        },
    )
    assert response.status_code == 303
    campaign = db.session.scalars(select(Campaign)).one()
    assert [t.id for t in campaign.targets] == [association.id]


def test_submitters_cannot_see_the_tracker(client: FlaskClient) -> None:
    officer = make_user(org=make_org(region_code="320500"))
    campaign = _campaign(make_user(Role.COMPILER))
    login(client, officer.email, PASSWORD)
    assert client.get(f"/campaigns/{campaign.id}").status_code == 403
    assert client.get("/campaigns/new").status_code == 403


def test_notifications_are_private_and_marked_read(app: Flask) -> None:
    park = make_org(region_code="320500")
    officer = make_user(org=park)
    other = make_user(org=make_org(region_code="320500"))
    _campaign(make_user(Role.COMPILER))
    mine = db.session.scalars(select(Notification).where(Notification.user_id == officer.id)).one()
    client = app.test_client()
    login(client, other.email, PASSWORD)
    token = csrf_token(client, "/notifications")
    assert client.post(f"/notifications/{mine.id}", data={"csrf_token": token}).status_code == 404
    login(own := app.test_client(), officer.email, PASSWORD)
    assert 'aria-label="1 条未读"' in own.get("/").get_data(as_text=True)
    assert own.get(f"/notifications/{mine.id}").status_code == 405  # reading never changes state
    opened = own.post(
        f"/notifications/{mine.id}", data={"csrf_token": csrf_token(own, "/notifications")}
    )
    assert opened.status_code == 303 and "/submissions/new?campaign=" in opened.headers["Location"]
    db.session.expire_all()
    assert mine.read_at is not None
