"""Plan items, tags, organisations, campaigns, reports and exports through the API."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from feedback.campaigns import services as campaigns
from feedback.extensions import db
from feedback.formatting import china_today
from feedback.models import Campaign, Role, User
from tests.api.conftest import bearer, token_for
from tests.factories import (
    accepted_submission,
    make_org,
    make_submission,
    make_user,
    seed_taxonomy,
)


def _campaign(compiler: User) -> Campaign:
    data = campaigns.CampaignInput(
        title="2026年第四季度《规划方案》实施情况报送",
        period="2026年第四季度",
        opens_on=china_today() - timedelta(days=1),
        due_on=china_today() + timedelta(days=14),
        target_mode="parks_in_province",
        province_code="320000",
    )
    campaign = campaigns.create_campaign(compiler, data)
    db.session.commit()
    return campaign


def test_plan_items_and_tags(client: FlaskClient) -> None:
    seed_taxonomy()
    headers = bearer(token_for(make_user(), "read"))
    items = client.get("/api/v1/plan-items", headers=headers).get_json()["items"]
    assert any(i["code"] == "S3" for i in items)
    tags = client.get("/api/v1/tags", headers=headers).get_json()["items"]
    assert tags and {"id", "name", "group", "group_name", "active"} <= set(tags[0])


def test_organisations_as_the_caller_may_see_them(client: FlaskClient) -> None:
    park = make_org()
    other = make_org()
    own = client.get("/api/v1/organisations", headers=bearer(token_for(make_user(org=park))))
    assert [o["id"] for o in own.get_json()["items"]] == [park.id]
    staff = client.get("/api/v1/organisations", headers=bearer(token_for(make_user(Role.REVIEWER))))
    assert {park.id, other.id} <= {o["id"] for o in staff.get_json()["items"]}


def test_campaigns_and_progress(client: FlaskClient) -> None:
    compiler = make_user(Role.COMPILER)
    park = make_org(region_code="320500")
    elsewhere = make_org(region_code="330200")
    campaign = _campaign(compiler)
    staff = bearer(token_for(compiler, "read"))
    listed = client.get("/api/v1/campaigns", headers=staff).get_json()["items"]
    assert [c["id"] for c in listed] == [campaign.id]
    progress = client.get(f"/api/v1/campaigns/{campaign.id}/progress", headers=staff)
    assert progress.status_code == 200
    assert {p["organisation_id"] for p in progress.get_json()["items"]} == {park.id}
    targeted = bearer(token_for(make_user(org=park), "read"))
    assert [
        c["id"] for c in client.get("/api/v1/campaigns", headers=targeted).get_json()["items"]
    ] == [campaign.id]
    assert (
        client.get(f"/api/v1/campaigns/{campaign.id}/progress", headers=targeted).status_code == 403
    )
    outside = bearer(token_for(make_user(org=elsewhere), "read"))
    assert client.get("/api/v1/campaigns", headers=outside).get_json()["items"] == []
    assert (
        client.get(f"/api/v1/campaigns/{campaign.id}/progress", headers=outside).status_code == 404
    )


def test_a_compiler_builds_freezes_and_downloads_a_report(client: FlaskClient) -> None:
    compiler = make_user(Role.COMPILER)
    accepted = accepted_submission(make_user(), compiler)
    draft = make_submission(make_user(), submit=True)
    headers = bearer(token_for(compiler))
    created = client.post(
        "/api/v1/reports",
        json={"title": "2026年第四季度政策建议汇总", "period_label": "2026年第四季度"},
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    report_id = created.get_json()["id"]
    added = client.post(
        f"/api/v1/reports/{report_id}/items",
        json={"submission_ids": [accepted.id, draft.id]},
        headers=headers,
    )
    assert added.status_code == 200, added.get_json()
    body = added.get_json()
    assert body["added"] == 1 and sum(body["refused"].values()) == 1
    unknown = client.post(
        f"/api/v1/reports/{report_id}/items", json={"submission_ids": [999999]}, headers=headers
    )
    assert unknown.status_code == 422
    frozen = client.post(f"/api/v1/reports/{report_id}/freeze", headers=headers)
    assert frozen.status_code == 201 and frozen.get_json()["number"] == 1
    again = client.post(f"/api/v1/reports/{report_id}/freeze", headers=headers)
    assert again.status_code == 422  # nothing changed since version 1
    workbook = client.get(f"/api/v1/reports/{report_id}/versions/1/workbook", headers=headers)
    assert workbook.status_code == 200
    assert hashlib.sha256(workbook.data).hexdigest() == frozen.get_json()["sha256"]
    assert workbook.headers["X-Content-SHA256"] == frozen.get_json()["sha256"]
    missing = client.get(f"/api/v1/reports/{report_id}/versions/2/workbook", headers=headers)
    assert missing.status_code == 404
    listed = client.get("/api/v1/reports", headers=headers).get_json()["items"]
    assert listed[0]["id"] == report_id and listed[0]["versions"][0]["number"] == 1


def test_reviewers_read_reports_but_do_not_compile(client: FlaskClient) -> None:
    headers = bearer(token_for(make_user(Role.REVIEWER)))
    assert client.get("/api/v1/reports", headers=headers).status_code == 200
    body = {"title": "x", "period_label": "y"}
    assert client.post("/api/v1/reports", json=body, headers=headers).status_code == 403


def test_organisations_see_no_reports(client: FlaskClient) -> None:
    headers = bearer(token_for(make_user(), "read"))
    assert client.get("/api/v1/reports", headers=headers).status_code == 403
    assert client.get("/api/v1/reports/1/versions/1/workbook", headers=headers).status_code == 403


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_exports_use_the_queue_filters(client: FlaskClient, file_format: str) -> None:
    make_submission(make_user(), submit=True, title='=HYPERLINK("http://x")动火作业')
    headers = bearer(token_for(make_user(Role.REVIEWER), "read"))
    response = client.get(
        f"/api/v1/exports/submissions.{file_format}?status=submitted", headers=headers
    )
    assert response.status_code == 200
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    if file_format == "xlsx":
        sheet = load_workbook(io.BytesIO(response.data)).active
        values = [c.value for row in sheet.iter_rows() for c in row]
        assert '=HYPERLINK("http://x")动火作业' in values
    else:
        text = response.data.decode("utf-8-sig")
        assert "'=HYPERLINK" in text
    nothing = client.get(
        f"/api/v1/exports/submissions.{file_format}?status=accepted", headers=headers
    )
    assert nothing.status_code == 200


def test_exports_are_for_staff_and_bounded(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedback.reports import exports

    make_submission(make_user(), submit=True)
    make_submission(make_user(), submit=True)
    submitter = bearer(token_for(make_user(), "read"))
    assert client.get("/api/v1/exports/submissions.csv", headers=submitter).status_code == 403
    monkeypatch.setattr(exports, "DIRECT_LIMIT", 1)
    staff = bearer(token_for(make_user(Role.REVIEWER), "read"))
    response = client.get("/api/v1/exports/submissions.xlsx", headers=staff)
    assert response.status_code == 413
    problem = response.get_json()
    assert problem["type"] == "/api/v1/problems/export-too-large"
    assert "/exports/new" in problem["detail"]
