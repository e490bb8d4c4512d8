"""Filing through the web: forms, attachments, isolation, idempotency, atomic saves."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.formatting import china_today
from feedback.models import Attachment, Role, Status, Submission
from tests.conftest import csrf_token, login
from tests.factories import (
    PASSWORD,
    make_org,
    make_submission,
    make_user,
    plan_item,
    problem_form,
)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PDF_NAME = "园区特殊作业专项检查报告（2026年11月）.pdf"


def _form(client: FlaskClient, page: str, **overrides: Any) -> dict[str, Any]:
    data = problem_form(
        csrf_token=csrf_token(client, page),
        idempotency_key="k-" + page.replace("/", "-"),
        description="2026年11月专项检查中，园区内3家企业的承包商动火作业票证"
        "存在审批人签字缺失等问题。",
    )
    data.update(overrides)
    return data


def _logged_in(client: FlaskClient, **kwargs: Any) -> Any:
    user = make_user(**kwargs)
    plan_item("S3")
    login(client, user.email, PASSWORD)
    return user


def _upload_files(app: Flask) -> list[Path]:
    folder = Path(app.config["UPLOAD_DIR"])
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_file_a_problem_with_a_chinese_named_pdf(client: FlaskClient) -> None:
    _logged_in(client)
    data = _form(
        client,
        "/submissions/new?kind=problem",
        attachments=[(io.BytesIO(PDF), PDF_NAME)],
        action="submit",
    )
    response = client.post(
        "/submissions/new/problem", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    submission = db.session.scalars(select(Submission)).one()
    assert submission.status == Status.SUBMITTED
    assert submission.contact_phone == "13812345678"
    attachment = submission.attachments[0]
    assert attachment.original_name == PDF_NAME and attachment.media_type == "application/pdf"
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", attachment.stored_name)
    download = client.get(f"/submissions/{submission.id}/attachments/{attachment.id}")
    body = download.data
    download.close()  # send_file streams from an open file
    assert body == PDF
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "filename*=UTF-8''" in disposition
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "sandbox"


def test_validation_errors_keep_the_text_and_say_what_to_fix(client: FlaskClient) -> None:
    _logged_in(client)
    data = _form(
        client,
        "/submissions/new?kind=problem",
        contact_phone="12345",
        action="submit",
        description="写了一半的问题描述，还没有写完但是不能丢失这些内容",
    )
    response = client.post("/submissions/new/problem", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "草稿已保存" in body and "联系电话格式不正确" in body
    assert "写了一半的问题描述" in body  # nothing typed is lost
    assert db.session.scalars(select(Submission)).one().status == Status.DRAFT


def test_double_post_creates_one_submission(client: FlaskClient) -> None:
    _logged_in(client)
    data = _form(client, "/submissions/new?kind=problem", action="submit")
    first = client.post("/submissions/new/problem", data=data)
    second = client.post("/submissions/new/problem", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("检查报告.pdf", b"<html><script>alert(1)</script></html>", "不是有效的 PDF"),
        ("旧表格.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "旧版"),
    ],
)
def test_spoofed_files_are_rejected_and_leave_nothing(
    client: FlaskClient, name: str, content: bytes, message: str
) -> None:
    _logged_in(client)
    data = _form(client, "/submissions/new?kind=problem", attachments=[(io.BytesIO(content), name)])
    response = client.post(
        "/submissions/new/problem", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert "园区承包商动火作业票证管理不规范" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    assert _upload_files(client.application) == []


def test_docx_with_a_macro_is_rejected(client: FlaskClient) -> None:
    _logged_in(client)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr(
            "[Content_Types].xml",
            (
                '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                'content-types"><Override PartName="/word/document.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
            ),
        )
        package.writestr("word/document.xml", "<w:document/>")
        package.writestr("word/vbaProject.bin", b"macro")
    data = _form(
        client,
        "/submissions/new?kind=problem",
        attachments=[(io.BytesIO(buffer.getvalue()), "整改方案.docx")],
    )
    response = client.post(
        "/submissions/new/problem", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and "宏" in response.get_data(as_text=True)
    assert _upload_files(client.application) == []


def test_oversized_upload_gets_the_friendly_413(client: FlaskClient) -> None:
    _logged_in(client)
    client.application.config["MAX_CONTENT_LENGTH"] = 50_000
    data = _form(
        client,
        "/submissions/new?kind=problem",
        attachments=[(io.BytesIO(PDF + b"0" * 100_000), "大文件.pdf")],
    )
    response = client.post(
        "/submissions/new/problem", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 413 and "文件过大" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


def test_a_failed_commit_leaves_no_file_and_no_row(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _logged_in(client)
    data = _form(client, "/submissions/new?kind=problem", attachments=[(io.BytesIO(PDF), PDF_NAME)])

    from flask import has_request_context
    from sqlalchemy.orm import Session

    original = Session.commit

    def failing_commit(session: Session) -> None:
        if has_request_context():  # only the request's commit fails, after the files moved
            raise RuntimeError("disk full while committing")
        original(session)

    monkeypatch.setattr(Session, "commit", failing_commit)
    response = client.post(
        "/submissions/new/problem", data=data, content_type="multipart/form-data"
    )
    monkeypatch.setattr(Session, "commit", original)
    assert response.status_code == 500
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert _upload_files(client.application) == []


def test_another_organisation_gets_404_everywhere(app: Flask) -> None:
    owner = make_user()
    plan_item("S3")
    owner_client = app.test_client()
    login(owner_client, owner.email, PASSWORD)
    data = _form(
        owner_client,
        "/submissions/new?kind=problem",
        attachments=[(io.BytesIO(PDF), PDF_NAME)],
        action="submit",
    )
    owner_client.post("/submissions/new/problem", data=data, content_type="multipart/form-data")
    submission = db.session.scalars(select(Submission)).one()
    attachment = submission.attachments[0]
    intruder = make_user(Role.SUBMITTER, Role.ORG_APPROVER)
    client = app.test_client()
    login(client, intruder.email, PASSWORD)
    base = f"/submissions/{submission.id}"
    for path in (
        base,
        f"{base}/edit",
        f"{base}/attachments/{attachment.id}",
        f"{base}/revisions/1",
    ):
        response = client.get(path)
        response.close()
        assert response.status_code == 404, path
    token = csrf_token(client, "/submissions/")
    for path in (
        f"{base}/withdraw",
        f"{base}/approve",
        f"{base}/edit",
        f"{base}/attachments/{attachment.id}/delete",
    ):
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    listing = client.get("/submissions/").get_data(as_text=True)
    assert submission.reference not in listing
    autosave = client.post(
        "/submissions/autosave",
        data={
            "csrf_token": token,
            "kind": "problem",
            "submission_id": str(submission.id),
            "version": str(submission.version),
            "title": "篡改",
        },
    )
    assert autosave.status_code == 404
    db.session.expire_all()
    assert submission.title != "篡改" and submission.status == Status.SUBMITTED


def test_administrator_cannot_read_submissions(app: Flask) -> None:
    author = make_user()
    submission = make_submission(author, submit=True)
    admin = make_user(Role.ADMIN)
    client = app.test_client()
    login(client, admin.email, PASSWORD)
    assert client.get(f"/submissions/{submission.id}").status_code == 404


def test_autosave_creates_then_updates_and_refuses_a_stale_tab(client: FlaskClient) -> None:
    _logged_in(client)
    token = csrf_token(client, "/submissions/new?kind=problem")
    base = {
        "csrf_token": token,
        "kind": "problem",
        "idempotency_key": "autosave-key",
        "title": "半夜写的草稿",
        "submission_id": "",
        "version": "",
    }
    first = client.post("/submissions/autosave", data=base)
    assert first.status_code == 200
    saved = first.get_json()
    newer = client.post(
        "/submissions/autosave",
        data={
            **base,
            "submission_id": str(saved["id"]),
            "version": str(saved["version"]),
            "title": "新标签页里写的更新内容",
        },
    )
    assert newer.status_code == 200
    stale = client.post(
        "/submissions/autosave",
        data={
            **base,
            "submission_id": str(saved["id"]),
            "version": str(saved["version"]),
            "title": "旧标签页的旧内容",
        },
    )
    assert stale.status_code == 409 and stale.get_json()["error"] == "stale"
    db.session.expire_all()
    assert db.session.scalars(select(Submission)).one().title == "新标签页里写的更新内容"


def test_stale_form_save_shows_conflict_and_keeps_text(client: FlaskClient) -> None:
    author = _logged_in(client)
    submission = make_submission(author)
    page = f"/submissions/{submission.id}/edit"
    old = _form(client, page, version=str(submission.version), title="旧标签页的标题改动")
    client.post(
        page,
        data=_form(client, page, version=str(submission.version), title="另一个页面先保存的标题"),
    )
    response = client.post(page, data=old)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "保存过更新的内容" in body and "旧标签页的标题改动" in body
    db.session.expire_all()
    assert submission.title == "另一个页面先保存的标题"


def test_withdraw_then_illegal_second_withdraw_is_409(client: FlaskClient) -> None:
    author = _logged_in(client)
    submission = make_submission(author, submit=True)
    token = csrf_token(client, f"/submissions/{submission.id}")
    first = client.post(f"/submissions/{submission.id}/withdraw", data={"csrf_token": token})
    again = client.post(
        f"/submissions/{submission.id}/withdraw", data={"csrf_token": token}, follow_redirects=True
    )
    assert first.status_code == 303
    assert "不能执行“撤回”" in again.get_data(as_text=True)  # refused, and said why
    db.session.expire_all()
    assert submission.status == Status.WITHDRAWN
    assert [e.action for e in submission.events].count("withdraw") == 1


def test_returned_submission_shows_the_reason_and_a_call_to_action(client: FlaskClient) -> None:
    from feedback.filing import services

    author = _logged_in(client)
    staff = make_user(Role.REVIEWER)
    submission = make_submission(author, submit=True)
    services.decide(staff, submission, "start_review")
    services.decide(staff, submission, "return", "请补充气体分析记录")
    db.session.commit()
    page = client.get(f"/submissions/{submission.id}").get_data(as_text=True)
    assert "请补充气体分析记录" in page and "修改并重新提交" in page
    assert "第 1 版" in page
    inbox = client.get("/notifications").get_data(as_text=True)
    assert "退回修改" in inbox


def test_list_filters_and_search(client: FlaskClient) -> None:
    author = _logged_in(client)
    make_submission(author, title="危化品运输车辆停车场不足的问题")
    make_submission(author, title="园区封闭化管理卡口建设滞后", submit=True)
    page = client.get("/submissions/?q=停车场").get_data(as_text=True)
    assert "停车场" in page and "封闭化" not in page
    page = client.get("/submissions/?status=submitted").get_data(as_text=True)
    assert "封闭化" in page and "停车场" not in page


def test_history_lists_every_event(client: FlaskClient) -> None:
    author = _logged_in(client)
    submission = make_submission(author, submit=True)
    page = client.get(f"/submissions/{submission.id}").get_data(as_text=True)
    history = page[page.index('class="list-group list-group-numbered history"') :]
    items = re.findall(r'<span class="fw-semibold">([^<]+)</span>', history)
    assert items == ["创建草稿", "提交"]


def test_org_approver_approves_through_the_page(app: Flask) -> None:
    org = make_org(requires_approval=True)
    author = make_user(org=org)
    approver = make_user(Role.ORG_APPROVER, org=org)
    submission = make_submission(author, submit=True)
    client = app.test_client()
    login(client, approver.email, PASSWORD)
    home = client.get("/").get_data(as_text=True)
    assert "等待您审核" in home
    token = csrf_token(client, f"/submissions/{submission.id}")
    empty_note = client.post(
        f"/submissions/{submission.id}/return_internal", data={"csrf_token": token, "note": ""}
    )
    assert empty_note.status_code == 302
    response = client.post(f"/submissions/{submission.id}/approve", data={"csrf_token": token})
    assert response.status_code == 303
    db.session.expire_all()
    assert submission.status == Status.SUBMITTED


def test_edit_after_a_colleague_submitted_keeps_the_text(client: FlaskClient) -> None:
    author = _logged_in(client)
    submission = make_submission(author)
    page = f"/submissions/{submission.id}/edit"
    data = _form(client, page, version=str(submission.version), title="我在另一个页面写的新标题")
    from feedback.filing import services

    services.submit(author, submission)  # a colleague submitted it meanwhile
    db.session.commit()
    response = client.post(page, data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "我在另一个页面写的新标题" in body and "不能再修改" in body


def test_autosave_retry_without_an_id_still_saves_the_text(client: FlaskClient) -> None:
    _logged_in(client)
    token = csrf_token(client, "/submissions/new?kind=problem")
    base = {
        "csrf_token": token,
        "kind": "problem",
        "idempotency_key": "lost-answer",
        "submission_id": "",
        "version": "",
    }
    client.post("/submissions/autosave", data={**base, "title": "第一次自动保存"})
    # The answer was lost: the page still has no id and sends newer text.
    retry = client.post("/submissions/autosave", data={**base, "title": "后来写的内容"})
    assert retry.status_code == 200
    db.session.expire_all()
    assert db.session.scalars(select(Submission)).one().title == "后来写的内容"


def test_junk_version_is_a_conflict_not_a_crash(client: FlaskClient) -> None:
    author = _logged_in(client)
    submission = make_submission(author)
    page = f"/submissions/{submission.id}/edit"
    response = client.post(page, data=_form(client, page, version="abc", title="保留我的文字"))
    assert response.status_code == 409 and "保留我的文字" in response.get_data(as_text=True)


def test_autosave_refuses_a_campaign_that_does_not_ask_the_organisation(
    client: FlaskClient,
) -> None:
    from datetime import timedelta

    from feedback.campaigns import services as campaigns

    _logged_in(client)
    other_park = make_org(region_code="330200")
    compiler = make_user(Role.COMPILER)
    campaign = campaigns.create_campaign(
        compiler,
        campaigns.CampaignInput(
            title="浙江园区报送",
            period="2026年第四季度",
            opens_on=china_today(),
            due_on=china_today() + timedelta(days=7),
            target_mode="picked",
            organisation_ids=[other_park.id],
        ),
    )
    db.session.commit()
    token = csrf_token(client, "/submissions/new?kind=problem")
    response = client.post(
        "/submissions/autosave",
        data={
            "csrf_token": token,
            "kind": "problem",
            "idempotency_key": "k1",
            "title": "x",
            "campaign_id": str(campaign.id),
            "submission_id": "",
            "version": "",
        },
    )
    assert response.status_code == 422
    bogus = client.post(
        "/submissions/autosave",
        data={
            "csrf_token": token,
            "kind": "problem",
            "idempotency_key": "k2",
            "title": "x",
            "sensitivity": "bogus",
            "submission_id": "",
            "version": "",
        },
    )
    assert bogus.status_code == 422


def test_sent_attachment_cannot_be_deleted_after_a_return(client: FlaskClient) -> None:
    from feedback.filing import services

    author = _logged_in(client)
    data = _form(
        client,
        "/submissions/new?kind=problem",
        attachments=[(io.BytesIO(PDF), PDF_NAME)],
        action="submit",
    )
    client.post("/submissions/new/problem", data=data, content_type="multipart/form-data")
    submission = db.session.scalars(select(Submission)).one()
    staff = make_user(Role.REVIEWER)
    services.decide(staff, submission, "start_review")
    services.decide(staff, submission, "return", "请补充")
    db.session.commit()
    attachment = submission.attachments[0]
    token = csrf_token(client, f"/submissions/{submission.id}/edit")
    response = client.post(
        f"/submissions/{submission.id}/attachments/{attachment.id}/delete",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "不能删除" in response.get_data(as_text=True)
    assert len(_upload_files(client.application)) == 1
    assert author.id


def test_staff_see_what_was_sent_not_the_organisations_work_in_progress(app: Flask) -> None:
    from feedback.filing import services
    from tests.factories import problem_input

    org = make_org(requires_approval=True)
    author = make_user(org=org)
    approver = make_user(Role.ORG_APPROVER, org=org)
    submission = make_submission(author, submit=True)
    services.return_internally(approver, submission, "内部意见：数据口径不对")
    services.submit(author, submission)
    services.approve(approver, submission)
    staff = make_user(Role.REVIEWER)
    services.decide(staff, submission, "start_review")
    services.decide(staff, submission, "return", "请补充气体分析记录")
    services.update_draft(
        author,
        submission,
        problem_input(summary="尚未完成的修改：这段话还在写"),
        submission.version,
    )
    db.session.commit()
    client = app.test_client()
    login(client, staff.email, PASSWORD)
    page = client.get(f"/submissions/{submission.id}", follow_redirects=True).get_data(as_text=True)
    assert "内部意见" not in page  # the internal approval step stays inside the organisation
    assert "尚未完成的修改" not in page  # work in progress stays with the organisation
    assert "最近一次报送的内容" in page
    numbers = [r.number for r in services.revisions(submission)]
    assert numbers == [1]  # only what reached the federation is kept as a revision
    assert client.get(f"/submissions/{submission.id}/revisions/1").status_code == 200


def test_refused_action_is_a_page_in_chinese_not_a_bare_redirect(client: FlaskClient) -> None:
    author = _logged_in(client)
    submission = make_submission(author)
    token = csrf_token(client, f"/submissions/{submission.id}")
    response = client.post(f"/submissions/{submission.id}/approve", data={"csrf_token": token})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "权限" in page or "不能执行" in page


def test_concurrent_double_submit_creates_one_submission(app: Flask) -> None:
    """Two copies of one form at the same moment: one row, both answers point to it."""
    import threading

    user = make_user()
    plan_item("S3")
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        login(client, user.email, PASSWORD)
    forms = [
        _form(c, "/submissions/new?kind=problem", idempotency_key="same-form-key", action="submit")
        for c in clients
    ]
    results: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def send(index: int) -> None:
        with app.app_context():
            barrier.wait()
            results[index] = clients[index].post("/submissions/new/problem", data=forms[index])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [303, 303]
    assert results[0].headers["Location"] == results[1].headers["Location"]
    db.session.commit()  # read after both requests, not from an older snapshot
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 1
