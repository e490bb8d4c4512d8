"""Review through the API: transitions, tags, plan items, comments, similar submissions."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import AuditRecord, Comment, Role, Submission, Tag
from tests.api.conftest import bearer, token_for
from tests.factories import make_submission, make_user, plan_item, seed_taxonomy


def _sent(**overrides: object) -> Submission:
    return make_submission(make_user(), submit=True, **overrides)


def test_reviewer_takes_a_submission_through_review(client: FlaskClient) -> None:
    submission = _sent()
    headers = bearer(token_for(make_user(Role.REVIEWER)))
    url = f"/api/v1/submissions/{submission.id}/transitions"
    started = client.post(url, json={"action": "start_review"}, headers=headers)
    assert started.status_code == 200 and started.get_json()["status"] == "in_review"
    no_note = client.post(url, json={"action": "reject"}, headers=headers)
    assert no_note.status_code == 422 and "note" in no_note.get_json()["errors"]
    accepted = client.post(url, json={"action": "accept", "note": "可借鉴"}, headers=headers)
    assert accepted.get_json()["status"] == "accepted"
    again = client.post(url, json={"action": "accept"}, headers=headers)
    assert again.status_code == 409
    assert {"start_review", "accept"} <= set(db.session.scalars(select(AuditRecord.action)))


def test_transition_needs_the_review_scope(client: FlaskClient) -> None:
    submission = _sent()
    headers = bearer(token_for(make_user(Role.REVIEWER), "read"))
    response = client.post(
        f"/api/v1/submissions/{submission.id}/transitions",
        json={"action": "start_review"},
        headers=headers,
    )
    assert response.status_code == 403


def test_the_submitter_cannot_decide_on_their_own(client: FlaskClient) -> None:
    author = make_user()
    submission = make_submission(author, submit=True)
    headers = bearer(token_for(author))
    response = client.post(
        f"/api/v1/submissions/{submission.id}/transitions",
        json={"action": "start_review"},
        headers=headers,
    )
    assert response.status_code == 403  # the token has no review scope; the owner no role


def test_the_org_approver_approves_with_the_file_scope(client: FlaskClient) -> None:
    from tests.factories import make_org

    org = make_org(requires_approval=True)
    approver = make_user(Role.ORG_APPROVER, org=org)
    submission = make_submission(make_user(org=org), submit=True)
    assert submission.status == "pending_approval"
    headers = bearer(token_for(approver, "read", "file"))
    response = client.post(
        f"/api/v1/submissions/{submission.id}/transitions",
        json={"action": "approve"},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "submitted"


def test_unknown_actions_are_422(client: FlaskClient) -> None:
    submission = _sent()
    headers = bearer(token_for(make_user(Role.REVIEWER)))
    response = client.post(
        f"/api/v1/submissions/{submission.id}/transitions",
        json={"action": "report"},
        headers=headers,
    )
    assert response.status_code == 422


def test_tags_and_plan_items_replace_with_a_version_check(client: FlaskClient) -> None:
    seed_taxonomy()
    submission = _sent()
    tags = list(db.session.scalars(select(Tag).limit(2)))
    headers = bearer(token_for(make_user(Role.REVIEWER)))
    base = f"/api/v1/submissions/{submission.id}"
    version = client.get(base, headers=headers).get_json()["version"]
    tagged = client.put(
        f"{base}/tags", json={"ids": [t.id for t in tags], "version": version}, headers=headers
    )
    assert tagged.status_code == 200, tagged.get_json()
    assert sorted(tagged.get_json()["tag_ids"]) == sorted(t.id for t in tags)
    stale = client.put(f"{base}/tags", json={"ids": [], "version": version}, headers=headers)
    assert stale.status_code == 409
    current = tagged.get_json()["version"]
    other = plan_item("S1")
    linked = client.put(
        f"{base}/plan-items", json={"ids": [other.id], "version": current}, headers=headers
    )
    assert linked.status_code == 200 and linked.get_json()["plan_item_ids"] == [other.id]
    empty = client.put(
        f"{base}/plan-items",
        json={"ids": [], "version": linked.get_json()["version"]},
        headers=headers,
    )
    assert empty.status_code == 422


def test_submitters_cannot_tag_even_their_own(client: FlaskClient) -> None:
    author = make_user()
    submission = make_submission(author, submit=True)
    from tests.api.conftest import forced_token

    headers = bearer(forced_token(author, "read,review"))
    response = client.put(
        f"/api/v1/submissions/{submission.id}/tags",
        json={"ids": [], "version": submission.version},
        headers=headers,
    )
    assert response.status_code == 403


def test_comments(client: FlaskClient) -> None:
    submission = _sent()
    headers = bearer(token_for(make_user(Role.REVIEWER)))
    url = f"/api/v1/submissions/{submission.id}/comments"
    response = client.post(
        url, json={"body": "请补充整改时限。", "to_submitter": True}, headers=headers
    )
    assert response.status_code == 201
    assert response.get_json()["visibility"] == "to_submitter"
    note = db.session.scalars(select(Comment)).one()
    assert note.body == "请补充整改时限。"
    assert client.post(url, json={"body": ""}, headers=headers).status_code == 422


def test_staff_cannot_see_drafts(client: FlaskClient) -> None:
    draft = make_submission(make_user())
    headers = bearer(token_for(make_user(Role.REVIEWER)))
    assert client.get(f"/api/v1/submissions/{draft.id}", headers=headers).status_code == 404


def test_similar_lists_linked_submissions(client: FlaskClient) -> None:
    first = _sent()
    second = _sent()
    headers = bearer(token_for(make_user(Role.REVIEWER)))
    response = client.get(f"/api/v1/submissions/{first.id}/similar", headers=headers)
    assert response.status_code == 200
    items = response.get_json()["items"]
    # The two texts are the same report: the similarity index links them.
    assert [i["id"] for i in items] == [second.id]
    assert 0 < items[0]["score"] <= 1
