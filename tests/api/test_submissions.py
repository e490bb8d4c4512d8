"""Submissions through the API: the web's services and permissions, as JSON."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import AuditRecord, Role, Submission
from tests.api.conftest import bearer, token_for
from tests.conftest import IsolatedClient, _make_app
from tests.factories import make_org, make_submission, make_user, plan_item

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "problem",
        "title": "园区承包商动火作业票证管理不规范",
        "summary": "抽查发现部分承包商动火作业票证填写不全、气体分析记录缺失。",
        "sections": {
            "description": "2026年11月专项检查中，园区内3家企业的承包商动火作业票证存在"
            "审批人签字缺失、气体分析时间晚于动火时间等问题。"
        },
        "plan_item_ids": [plan_item("S3").id],
        "region_code": "320500",
        "contact_name": "张工",
        "contact_phone": "13812345678",
    }
    body.update(overrides)
    return body


def test_file_attach_and_submit(client: FlaskClient) -> None:
    author = make_user()
    headers = bearer(token_for(author, "read", "file"))
    created = client.post("/api/v1/submissions", json=_body(), headers=headers)
    assert created.status_code == 201, created.get_json()
    draft = created.get_json()
    assert draft["status"] == "draft" and draft["reference"].startswith("FK-")
    assert draft["organisation_id"] == author.organisation_id and draft["problems"] == {}
    uploaded = client.post(
        f"/api/v1/submissions/{draft['id']}/attachments",
        data={"file": (io.BytesIO(PDF), "现场检查记录.pdf")},
        headers=headers,
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    (attachment,) = uploaded.get_json()["attachments"]
    assert attachment["original_name"] == "现场检查记录.pdf"
    download = client.get(
        f"/api/v1/submissions/{draft['id']}/attachments/{attachment['id']}", headers=headers
    )
    assert download.status_code == 200 and download.data == PDF
    download.close()
    sent = client.post(f"/api/v1/submissions/{draft['id']}/submit", headers=headers)
    assert sent.status_code == 200 and sent.get_json()["status"] == "submitted"
    actions = set(db.session.scalars(select(AuditRecord.action)))
    assert {"submission_create", "attachment_upload", "submit"} <= actions


def test_the_same_idempotency_key_returns_the_first_draft(client: FlaskClient) -> None:
    headers = bearer(token_for(make_user(), "file"))
    first = client.post("/api/v1/submissions", json=_body(idempotency_key="k-1"), headers=headers)
    again = client.post("/api/v1/submissions", json=_body(idempotency_key="k-1"), headers=headers)
    assert first.get_json()["id"] == again.get_json()["id"]


def test_patch_needs_the_current_version(client: FlaskClient) -> None:
    author = make_user()
    submission = make_submission(author)
    headers = bearer(token_for(author, "read", "file"))
    url = f"/api/v1/submissions/{submission.id}"
    version = client.get(url, headers=headers).get_json()["version"]
    changed = client.patch(
        url, json=_body(title="新的标题：动火作业票证", version=version), headers=headers
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["title"] == "新的标题：动火作业票证"
    stale = client.patch(url, json=_body(title="过期的修改", version=version), headers=headers)
    assert stale.status_code == 409
    assert stale.content_type == "application/problem+json"
    db.session.refresh(submission)
    assert submission.title == "新的标题：动火作业票证"


def test_submit_reports_what_is_missing_per_field(client: FlaskClient) -> None:
    author = make_user()
    headers = bearer(token_for(author, "file"))
    draft = client.post("/api/v1/submissions", json={"kind": "problem"}, headers=headers)
    response = client.post(f"/api/v1/submissions/{draft.get_json()['id']}/submit", headers=headers)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["type"] == "/api/v1/problems/validation" and problem["title"] == "内容未通过校验"
    assert {"title", "summary", "sections.description", "contact_name"} <= set(problem["errors"])


def test_withdraw_then_a_second_withdraw_is_409(client: FlaskClient) -> None:
    author = make_user()
    submission = make_submission(author, submit=True)
    headers = bearer(token_for(author, "file"))
    url = f"/api/v1/submissions/{submission.id}/withdraw"
    assert client.post(url, headers=headers).get_json()["status"] == "withdrawn"
    assert client.post(url, headers=headers).status_code == 409


def test_another_organisations_objects_are_404(client: FlaskClient) -> None:
    author = make_user()
    submission = make_submission(author)
    stranger = bearer(token_for(make_user(), "read", "file"))
    base = f"/api/v1/submissions/{submission.id}"
    assert client.get(base, headers=stranger).status_code == 404
    assert client.patch(base, json=_body(version=1), headers=stranger).status_code == 404
    assert client.post(f"{base}/submit", headers=stranger).status_code == 404
    assert client.post(f"{base}/withdraw", headers=stranger).status_code == 404
    assert client.get(f"{base}/attachments/1", headers=stranger).status_code == 404
    assert client.get(f"{base}/similar", headers=stranger).status_code == 404
    listing = client.get("/api/v1/submissions", headers=stranger).get_json()
    assert listing["items"] == []


def test_a_colleague_of_the_same_organisation_sees_it(client: FlaskClient) -> None:
    org = make_org()
    submission = make_submission(make_user(org=org))
    headers = bearer(token_for(make_user(org=org), "read"))
    assert client.get(f"/api/v1/submissions/{submission.id}", headers=headers).status_code == 200


def test_a_read_only_token_cannot_file(client: FlaskClient) -> None:
    headers = bearer(token_for(make_user(), "read"))
    response = client.post("/api/v1/submissions", json=_body(), headers=headers)
    assert response.status_code == 403
    assert "file" in response.get_json()["detail"]


def test_staff_cannot_file(client: FlaskClient) -> None:
    # A reviewer's token has no `file` scope to begin with; forced or not, create_draft refuses.
    from tests.api.conftest import forced_token

    headers = bearer(forced_token(make_user(Role.REVIEWER), "read,file"))
    assert client.post("/api/v1/submissions", json=_body(), headers=headers).status_code == 403


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"data": "kind=problem", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"json": {"kind": "memo"}}, 422),
        ({"json": {"kind": "problem", "organisation_id": 1, "status": "accepted"}}, 422),
        ({"json": {"kind": "problem", "plan_item_ids": [2**40]}}, 422),
        ({"json": {"kind": "problem", "plan_item_ids": [999999]}}, 422),
        ({"json": {"kind": "problem", "region_code": "abc"}}, 422),
        ({"json": ["kind", "problem"]}, 422),
    ],
)
def test_bad_input_is_a_problem_never_a_500(
    client: FlaskClient, kwargs: dict[str, Any], status: int
) -> None:
    headers = bearer(token_for(make_user(), "file"))
    response = client.post("/api/v1/submissions", headers=headers, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert db.session.scalars(select(Submission)).first() is None


def test_extra_fields_are_named_in_the_errors(client: FlaskClient) -> None:
    headers = bearer(token_for(make_user(), "file"))
    body = {"kind": "problem", "organisation_id": 1}
    errors = client.post("/api/v1/submissions", json=body, headers=headers).get_json()["errors"]
    assert errors == {"organisation_id": ["不允许的字段。"]}


def test_attachment_checks(client: FlaskClient) -> None:
    author = make_user()
    submission = make_submission(author)
    headers = bearer(token_for(author, "file"))
    url = f"/api/v1/submissions/{submission.id}/attachments"
    spoofed = client.post(url, data={"file": (io.BytesIO(b"<html>"), "a.pdf")}, headers=headers)
    assert spoofed.status_code == 422 and "file" in spoofed.get_json()["errors"]
    assert client.post(url, json={}, headers=headers).status_code == 415
    empty = client.post(
        url, data={"other": "x"}, content_type="multipart/form-data", headers=headers
    )
    assert empty.status_code == 422


def test_attachment_over_the_request_limit_is_413(client: FlaskClient) -> None:
    client.application.config["MAX_CONTENT_LENGTH"] = 1000
    author = make_user()
    submission = make_submission(author)
    headers = bearer(token_for(author, "file"))
    response = client.post(
        f"/api/v1/submissions/{submission.id}/attachments",
        data={"file": (io.BytesIO(PDF + b" " * 2000), "big.pdf")},
        headers=headers,
    )
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"


def test_list_filters_and_cursor(client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER)
    author = make_user()
    sent = [make_submission(author, submit=True) for _ in range(27)]
    make_submission(author)  # a draft: not the federation's
    headers = bearer(token_for(reviewer, "read"))
    first = client.get("/api/v1/submissions?status=submitted&kind=problem", headers=headers)
    page = first.get_json()
    assert len(page["items"]) == 25 and page["next"].startswith("/api/v1/submissions?")
    rest = client.get(page["next"], headers=headers).get_json()
    assert len(rest["items"]) == 2 and rest["next"] is None
    ids = {i["id"] for i in page["items"]} | {i["id"] for i in rest["items"]}
    assert ids == {s.id for s in sent}
    other_kind = client.get("/api/v1/submissions?kind=experience", headers=headers).get_json()
    assert other_kind["items"] == []
    by_org = client.get(
        f"/api/v1/submissions?organisation_id={author.organisation_id}&plan_item=S3",
        headers=headers,
    ).get_json()
    assert len(by_org["items"]) == 25


def test_an_organisation_lists_its_drafts_too(client: FlaskClient) -> None:
    author = make_user()
    draft = make_submission(author)
    headers = bearer(token_for(author, "read"))
    items = client.get("/api/v1/submissions", headers=headers).get_json()["items"]
    assert [i["id"] for i in items] == [draft.id]
    assert items[0]["abstract"] is None and items[0]["assignee_id"] is None


def test_bad_query_values_are_422(client: FlaskClient) -> None:
    headers = bearer(token_for(make_user(Role.REVIEWER), "read"))
    response = client.get("/api/v1/submissions?status=lost&since=yesterday", headers=headers)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"status", "since"}


def test_huge_ids_in_the_path_are_404(client: FlaskClient) -> None:
    headers = bearer(token_for(make_user(), "read"))
    assert client.get(f"/api/v1/submissions/{2**70}", headers=headers).status_code == 404


def test_unknown_api_paths_and_methods_are_problems(client: FlaskClient) -> None:
    headers = bearer(token_for(make_user(), "read"))
    missing = client.get("/api/v1/nothing-here", headers=headers)
    assert missing.status_code == 404 and missing.content_type == "application/problem+json"
    wrong = client.delete("/api/v1/submissions", headers=headers)
    assert wrong.status_code == 405 and wrong.content_type == "application/problem+json"


def _limited_client(app: Flask, tmp_path: Path, **limits: str) -> tuple[Flask, FlaskClient]:
    limited = _make_app(
        app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, RATELIMIT_ENABLED=True, **limits
    )
    limited.test_client_class = IsolatedClient
    return limited, limited.test_client()


def _dispose(limited: Flask) -> None:
    with limited.app_context():
        db.engine.dispose()


def test_rate_limit_per_token_is_429(app: Flask, tmp_path: Path) -> None:
    victim = token_for(make_user(), "read")
    second = bearer(token_for(make_user(), "read"))
    limited, client = _limited_client(app, tmp_path, RATELIMIT_API="2 per minute")
    try:
        # Forged tokens with the victim's public prefix do not use up the victim's allowance.
        forged = bearer(victim[:13] + "A" * 43)
        assert [client.get("/api/v1/tags", headers=forged).status_code for _ in range(3)] == [
            401,
            401,
            429,
        ]
        first = bearer(victim)
        statuses = [client.get("/api/v1/tags", headers=first).status_code for _ in range(3)]
        refused = client.get("/api/v1/tags", headers=first)
        other = client.get("/api/v1/tags", headers=second)
    finally:
        _dispose(limited)
    assert statuses == [200, 200, 429]
    assert refused.content_type == "application/problem+json"
    assert refused.get_json()["title"] == "请求过于频繁"
    assert other.status_code == 200


def test_rate_limit_per_address_over_all_tokens(app: Flask, tmp_path: Path) -> None:
    headers = [bearer(token_for(make_user(), "read")) for _ in range(4)]
    limited, client = _limited_client(
        app, tmp_path, RATELIMIT_API="100 per minute", RATELIMIT_API_ADDRESS="3 per minute"
    )
    try:
        statuses = [client.get("/api/v1/tags", headers=h).status_code for h in headers]
    finally:
        _dispose(limited)
    assert statuses == [200, 200, 200, 429]


def test_search_and_date_filters(client: FlaskClient) -> None:
    author = make_user()
    fire = make_submission(author, submit=True)
    make_submission(
        author,
        submit=True,
        title="危险化学品运输车辆停车场管理问题",
        summary="园区停车场夜间停放管理混乱。",
        sections={
            "description": "园区危险化学品运输车辆专用停车场夜间停放车辆超出车位，"
            "未设置专人看守，部分车辆未熄火停放，存在安全隐患。"
        },
    )
    headers = bearer(token_for(make_user(Role.REVIEWER), "read"))
    found = client.get("/api/v1/submissions?q=动火", headers=headers).get_json()["items"]
    assert [i["id"] for i in found] == [fire.id]
    later = client.get("/api/v1/submissions?since=2999-01-01", headers=headers).get_json()
    assert later["items"] == []


def test_staff_see_what_was_sent_while_a_returned_one_is_revised(client: FlaskClient) -> None:
    from feedback.filing import services

    author = make_user()
    reviewer = make_user(Role.REVIEWER)
    submission = make_submission(author, submit=True)
    services.decide(reviewer, submission, "start_review")
    services.decide(reviewer, submission, "return", "请补充整改时限。")
    db.session.commit()
    own = bearer(token_for(author, "read", "file"))
    url = f"/api/v1/submissions/{submission.id}"
    version = client.get(url, headers=own).get_json()["version"]
    edited = client.patch(
        url, json=_body(title="修改中的标题：尚未重新报送", version=version), headers=own
    )
    assert edited.status_code == 200
    staff = client.get(url, headers=bearer(token_for(reviewer, "read"))).get_json()
    assert staff["title"] == "园区承包商动火作业票证管理不规范"
    assert client.get(url, headers=own).get_json()["title"] == "修改中的标题：尚未重新报送"


def test_a_misspelt_filter_is_refused_not_ignored(client: FlaskClient) -> None:
    # Found by schemathesis: an unknown query parameter was ignored, so a typo in a filter
    # answered every submission as if it had filtered them.
    headers = bearer(token_for(make_user(Role.REVIEWER), "read"))
    assert client.get("/api/v1/submissions?status=accepted", headers=headers).status_code == 200

    response = client.get("/api/v1/submissions?statuss=accepted", headers=headers)

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.get_json()["errors"] == {"statuss": ["不允许的字段。"]}
