"""The per-organisation upload quota (SECURITY.md row 22): web form and API, refused and audited."""

from __future__ import annotations

import io
import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.filing import services
from feedback.models import AuditRecord, Submission, User
from tests.api.conftest import bearer, token_for
from tests.factories import make_org, make_submission, make_user, stored_attachment
from tests.filing.test_views import PDF, _form, _logged_in, _upload_files
from tests.queries import statements

QUOTA = 1000


def _used(user: User, size: int) -> None:
    """``user``'s organisation already keeps ``size`` bytes of attachments."""
    stored_attachment(make_submission(user), user, "旧附件.pdf").size = size
    db.session.commit()


def _post(client: FlaskClient) -> tuple[int, str]:
    data = _form(
        client, "/submissions/new?kind=problem", attachments=[(io.BytesIO(PDF), "检查报告.pdf")]
    )
    response = client.post(
        "/submissions/new/problem", data=data, content_type="multipart/form-data"
    )
    return response.status_code, response.get_data(as_text=True)


def _refusals() -> list[AuditRecord]:
    return list(db.session.scalars(select(AuditRecord).where(AuditRecord.action == "upload_quota")))


def test_an_upload_past_the_quota_is_refused_in_chinese_the_text_kept_and_audited(
    app: Flask, client: FlaskClient
) -> None:
    app.config["ORG_UPLOAD_QUOTA_BYTES"] = QUOTA
    user = _logged_in(client)
    _used(user, QUOTA - len(PDF) + 1)  # one byte short of room for the new file
    files_before = _upload_files(app)

    status, body = _post(client)

    assert status == 422
    assert "每个单位 1000 B 的附件总量上限，本次附件未上传" in body
    assert "园区承包商动火作业票证管理不规范" in body  # the user's text is kept
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 1  # the old one
    assert _upload_files(app) == files_before  # no new file, not even a temporary one
    [audit] = _refusals()
    assert audit.outcome == "failure" and audit.actor_id == user.id
    assert audit.object_type == "organisation" and audit.object_id == str(user.organisation_id)
    assert json.loads(audit.detail or "") == {
        "used": QUOTA - len(PDF) + 1,
        "incoming": len(PDF),
        "quota": QUOTA,
    }


def test_the_quota_itself_is_accepted_and_other_organisations_do_not_count(
    app: Flask, client: FlaskClient
) -> None:
    app.config["ORG_UPLOAD_QUOTA_BYTES"] = QUOTA
    user = _logged_in(client)
    _used(user, QUOTA - len(PDF))
    _used(make_user(org=make_org()), QUOTA)  # another organisation, full

    status, _body = _post(client)

    assert status == 303
    assert services.organisation_upload_bytes(user.organisation_id) == QUOTA
    assert _refusals() == []


def test_zero_means_no_quota(app: Flask, client: FlaskClient) -> None:
    app.config["ORG_UPLOAD_QUOTA_BYTES"] = 0
    user = _logged_in(client)
    _used(user, 2**31 - 1)
    assert _post(client)[0] == 303


def test_the_default_quota_is_two_gibibytes(app: Flask) -> None:
    assert app.config["ORG_UPLOAD_QUOTA_BYTES"] == 2 * 1024**3


def test_the_total_is_one_query(app: Flask) -> None:
    user = make_user()
    for number in range(3):
        _used(user, 100 + number)
    organisation_id = user.organisation_id
    with statements() as seen:
        total = services.organisation_upload_bytes(organisation_id)
    assert total == 303
    assert len(seen) == 1 and "sum(" in seen[0].lower()


def test_an_api_upload_past_the_quota_is_refused_and_audited(
    app: Flask, client: FlaskClient
) -> None:
    app.config["ORG_UPLOAD_QUOTA_BYTES"] = QUOTA
    author = make_user()
    _used(author, QUOTA)
    draft = make_submission(author)
    db.session.commit()
    files_before = _upload_files(app)

    response = client.post(
        f"/api/v1/submissions/{draft.id}/attachments",
        data={"file": (io.BytesIO(PDF), "现场检查记录.pdf")},
        headers=bearer(token_for(author, "file")),
    )

    assert response.status_code == 422
    assert "附件总量上限" in response.get_json()["errors"]["file"][0]
    assert _upload_files(app) == files_before
    db.session.refresh(draft)
    assert draft.attachments == []
    [audit] = _refusals()
    assert audit.actor_id == author.id and json.loads(audit.detail or "")["used"] == QUOTA
