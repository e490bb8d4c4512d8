"""Similar submissions: detection, isolation between organisations, staff decisions, recompute."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from feedback.exceptions import PermissionDenied
from feedback.extensions import db
from feedback.models import Event, Role, Submission, User
from feedback.models.similarity import (
    LinkStatus,
    SimilarityBand,
    SimilarityLink,
    SimilaritySignature,
)
from feedback.review import similarity
from tests.factories import make_org, make_submission, make_user

FIRE: dict[str, Any] = {
    "title": "园区承包商动火作业票证管理不规范",
    "summary": "抽查发现部分承包商动火作业票证填写不全、气体分析记录缺失。",
    "sections": {
        "description": "2026年11月专项检查中，园区内3家企业的承包商动火作业票证存在"
        "审批人签字缺失、气体分析时间晚于动火时间等问题。"
    },
}
# The same problem, reworded slightly by another organisation.
FIRE_REWORDED: dict[str, Any] = {
    "title": "园区承包商动火作业票证管理不够规范",
    "summary": "抽查发现部分承包商的动火作业票证填写不全，气体分析记录缺失。",
    "sections": {
        "description": "2026年10月专项检查中，园区内5家企业的承包商动火作业票证存在"
        "审批人签字缺失、气体分析时间晚于动火时间等情况。"
    },
}
HYDROGEN: dict[str, Any] = {
    "title": "氢能项目安全管理标准不统一",
    "summary": "加氢站选址与外部安全防护距离要求不一致，各地审批尺度差别较大。",
    "sections": {
        "description": "调研发现，氢能项目在规划选址、储运设施和应急处置方面缺少专门标准，"
        "基层监管部门难以把握。"
    },
}


@pytest.fixture(autouse=True)
def hooks(app: Flask) -> Iterator[None]:
    """Signatures and links follow ORM writes during these tests only."""
    similarity.install(app)
    yield
    similarity.uninstall()


def _sent(author: User, text: Mapping[str, Any], **overrides: Any) -> Submission:
    return make_submission(author, submit=True, **{**text, **overrides})


def _link(x: Submission, y: Submission) -> SimilarityLink | None:
    a, b = sorted((x.id, y.id))
    return db.session.scalars(
        select(SimilarityLink).where(
            SimilarityLink.submission_a_id == a, SimilarityLink.submission_b_id == b
        )
    ).one_or_none()


def test_signature_is_deterministic_and_estimates_jaccard() -> None:
    text = "危险化学品运输车辆停车场建设滞后"
    assert similarity.signature(text) == similarity.signature(text)
    assert len(similarity.signature(text)) == similarity.NUM_HASHES
    assert similarity.estimate(similarity.signature(text), similarity.signature(text)) == 1.0
    # Punctuation, spaces and Latin case do not matter.
    assert similarity.signature("HAZOP 分析，园区") == similarity.signature("hazop分析园区")
    assert similarity.signature("，。 ") == []
    assert similarity.estimate([], similarity.signature(text)) == 0.0


def test_reworded_problem_is_found_and_unrelated_is_not(app: Flask) -> None:
    first = _sent(make_user(), FIRE)
    second = _sent(make_user(), FIRE_REWORDED)
    unrelated = _sent(make_user(), HYDROGEN)
    staff = make_user(Role.REVIEWER)

    found = similarity.similar_to(db.session, first, staff)

    assert [s.id for s, _score, _link in found] == [second.id]
    _submission, score, link = found[0]
    assert score >= similarity.THRESHOLD and score == link.score
    assert link.status == LinkStatus.DETECTED
    assert similarity.similar_to(db.session, unrelated, staff) == []
    assert _link(first, unrelated) is None


def test_submitter_never_sees_another_organisations_submission(app: Flask) -> None:
    org_a = make_org()
    submitter_a = make_user(org=org_a)
    own = _sent(submitter_a, FIRE)
    own_again = _sent(submitter_a, FIRE_REWORDED, title="园区承包商动火作业票证管理仍不规范")
    other = _sent(make_user(), FIRE_REWORDED)
    assert _link(own, other) is not None  # the link exists; only its visibility is at stake

    seen = [s.id for s, _score, _link in similarity.similar_to(db.session, own, submitter_a)]
    assert seen == [own_again.id]
    assert similarity.similar_to(db.session, other, submitter_a) == []
    assert similarity.cluster_summary(db.session, own, submitter_a) == (1, 1, 1)
    assert similarity.cluster_summary(db.session, other, submitter_a) == (0, 0, 0)
    staff = make_user(Role.REVIEWER)
    assert {s.id for s, _sc, _l in similarity.similar_to(db.session, own, staff)} == {
        own_again.id,
        other.id,
    }


def test_cluster_summary_counts_organisations_and_provinces(app: Flask) -> None:
    first = _sent(make_user(), FIRE, region_code="320500")
    _sent(make_user(), FIRE_REWORDED, region_code="370100")
    _sent(make_user(), FIRE_REWORDED, region_code="320500", title="承包商动火作业票证管理不规范")
    _sent(make_user(), HYDROGEN, region_code="440300")
    staff = make_user(Role.REVIEWER)
    assert similarity.cluster_summary(db.session, first, staff) == (2, 3, 2)


def test_confirm_and_dismiss_keep_links_and_record_events(app: Flask) -> None:
    first = _sent(make_user(), FIRE)
    second = _sent(make_user(), FIRE_REWORDED)
    third = _sent(make_user(), FIRE_REWORDED, title="承包商动火作业票证管理不规范")
    staff = make_user(Role.REVIEWER)
    confirmed, dismissed = _link(first, second), _link(first, third)
    assert confirmed is not None and dismissed is not None
    links_before = db.session.scalar(select(func.count()).select_from(SimilarityLink))

    similarity.confirm(staff, confirmed)
    similarity.dismiss(staff, dismissed)
    db.session.commit()

    assert db.session.scalar(select(func.count()).select_from(SimilarityLink)) == links_before
    assert confirmed.status == LinkStatus.CONFIRMED and confirmed.decided_by_id == staff.id
    assert dismissed.status == LinkStatus.DISMISSED and dismissed.decided_at is not None
    actions = {
        (e.submission_id, e.action, e.note)
        for e in db.session.scalars(select(Event).where(Event.action.like("similar_%")))
    }
    assert actions == {
        (first.id, "similar_confirmed", second.reference),
        (second.id, "similar_confirmed", first.reference),
        (first.id, "similar_dismissed", third.reference),
        (third.id, "similar_dismissed", first.reference),
    }
    # Dismissed pairs are not suggested again, but can be listed on request.
    shown = [s.id for s, _sc, _l in similarity.similar_to(db.session, first, staff)]
    assert shown == [second.id]
    everything = similarity.similar_to(db.session, first, staff, include_dismissed=True)
    assert {s.id for s, _sc, _l in everything} == {second.id, third.id}


def test_only_staff_decide(app: Flask) -> None:
    author = make_user()
    first = _sent(author, FIRE)
    second = _sent(make_user(), FIRE_REWORDED)
    link = _link(first, second)
    assert link is not None
    for user in (author, make_user(Role.SECURITY_ADMIN)):
        with pytest.raises(PermissionDenied):
            similarity.confirm(user, link)
        with pytest.raises(PermissionDenied):
            similarity.dismiss(user, link)
    assert link.status == LinkStatus.DETECTED
    assert db.session.scalar(select(func.count()).select_from(Event).where(
        Event.action.like("similar_%"))) == 0  # fmt: skip


def test_edit_updates_scores_but_never_removes_a_decided_link(app: Flask) -> None:
    first = _sent(make_user(), FIRE)
    second = _sent(make_user(), FIRE_REWORDED)
    third = _sent(make_user(), FIRE_REWORDED, title="承包商动火作业票证管理不规范")
    staff = make_user(Role.REVIEWER)
    confirmed, detected = _link(first, second), _link(first, third)
    assert confirmed is not None and detected is not None
    similarity.confirm(staff, confirmed)
    db.session.commit()
    old_score = confirmed.score

    # Both partners are rewritten into unrelated texts; the ORM hooks recompute on flush.
    for submission in (second, third):
        submission.title = HYDROGEN["title"]
        submission.summary = HYDROGEN["summary"]
        submission.sections = HYDROGEN["sections"]
    db.session.commit()

    kept = _link(first, second)
    assert kept is not None and kept.status == LinkStatus.CONFIRMED
    assert kept.score < similarity.THRESHOLD < old_score
    assert _link(first, third) is None  # an undecided suggestion that no longer holds
    # The two rewritten submissions are now alike: a new suggestion between them.
    fresh = _link(second, third)
    assert fresh is not None and fresh.status == LinkStatus.DETECTED and fresh.score == 1.0


def test_status_changes_do_not_recompute(app: Flask) -> None:
    first = _sent(make_user(), FIRE)
    stamp = db.session.scalars(
        select(SimilaritySignature.updated_at).where(SimilaritySignature.submission_id == first.id)
    ).one()
    first.priority = 2
    db.session.commit()
    again = db.session.scalars(
        select(SimilaritySignature.updated_at).where(SimilaritySignature.submission_id == first.id)
    ).one()
    assert again == stamp


def test_rebuild_matches_incremental_updates_and_keeps_decisions(app: Flask) -> None:
    first = _sent(make_user(), FIRE)
    second = _sent(make_user(), FIRE_REWORDED)
    third = _sent(make_user(), FIRE_REWORDED, title="承包商动火作业票证管理不规范")
    _sent(make_user(), HYDROGEN)
    staff = make_user(Role.REVIEWER)
    link = _link(first, second)
    assert link is not None
    similarity.dismiss(staff, link)
    db.session.commit()
    before = {
        (x.submission_a_id, x.submission_b_id, x.status, round(x.score, 6))
        for x in db.session.scalars(select(SimilarityLink))
    }

    stats = similarity.rebuild(db.session)
    db.session.commit()

    after = {
        (x.submission_a_id, x.submission_b_id, x.status, round(x.score, 6))
        for x in db.session.scalars(select(SimilarityLink))
    }
    assert after == before
    assert stats["submissions"] == 4
    assert _link(second, third) is not None
    bands = db.session.scalar(select(func.count()).select_from(SimilarityBand))
    assert bands == 4 * similarity.BANDS


def _hinted(*submissions: Submission) -> set[int]:
    ids = [submission.id for submission in submissions]
    statement = select(Submission.id).where(Submission.id.in_(ids), Submission.similar_hint)
    return set(db.session.scalars(statement))


def test_similar_hint_follows_every_way_a_live_link_is_written(app: Flask) -> None:
    """similar_hint is set on both submissions of a link that is not dismissed, whether the link
    comes from the hooks' update(), a confirmation or an ORM insert; a dismissal leaves it set
    (the queue checks the links too) and rebuild() makes it exact. The review queue's "has
    similar" reads it on PostgreSQL: a link without it would never be found there."""
    first = _sent(make_user(), FIRE)
    second = _sent(make_user(), FIRE_REWORDED)
    lonely = _sent(make_user(), HYDROGEN)
    staff = make_user(Role.REVIEWER)
    assert _hinted(first, second, lonely) == {first.id, second.id}

    link = _link(first, second)
    assert link is not None
    similarity.dismiss(staff, link)
    db.session.commit()
    assert _hinted(first, second) == {first.id, second.id}
    similarity.rebuild(db.session)
    db.session.commit()
    assert _hinted(first, second, lonely) == set()
    first.summary += "（补充）"  # its links are recomputed; the dismissed one stays unmarked
    db.session.commit()
    assert _hinted(first, second, lonely) == set()

    similarity.confirm(staff, link)
    db.session.commit()
    assert _hinted(first, second, lonely) == {first.id, second.id}

    unrelated = _sent(
        make_user(),
        FIRE,
        title="危险化学品道路运输车辆停车场建设滞后",
        summary="多地缺少专用停车场，运输车辆只能停在路边。",
        sections={
            "description": "调研发现多地危险化学品运输车辆缺少专用停车场，"
            "只能停在道路两侧，存在较大安全隐患。"
        },
    )
    assert _hinted(lonely, unrelated) == set()
    a, b = sorted((lonely.id, unrelated.id))
    db.session.add(SimilarityLink(submission_a_id=a, submission_b_id=b, score=0.5))
    db.session.commit()
    assert _hinted(lonely, unrelated) == {lonely.id, unrelated.id}


def test_update_without_hooks(app: Flask) -> None:
    similarity.uninstall()
    first = _sent(make_user(), FIRE)
    second = _sent(make_user(), FIRE_REWORDED)
    assert _link(first, second) is None
    similarity.update(db.session, [first.id, second.id])
    db.session.commit()
    link = _link(first, second)
    assert link is not None and link.status == LinkStatus.DETECTED


def test_a_crowded_bucket_counts_only_the_nearest_members(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Boilerplate fills buckets with thousands of members: an update counts a window of the
    nearest ids in each (as rebuild() does), not all of them, so its cost stays flat."""
    monkeypatch.setattr(similarity, "BUCKET_WINDOW", 4)
    author = make_user()
    ids = [_sent(author, FIRE).id for _ in range(9)]  # identical texts: every bucket shared
    connection = db.session.connection()
    # Two before (the window starts up to half of it back), then one after: 4 with itself.
    assert similarity._candidates(connection, ids[4]) == [ids[2], ids[3], ids[5]]
    # At the start of the bucket the window reaches forward instead.
    assert similarity._candidates(connection, ids[0]) == [ids[1], ids[2], ids[3]]
    monkeypatch.setattr(similarity, "BUCKET_WINDOW", 64)  # a small bucket: every member
    assert similarity._candidates(connection, ids[4]) == [i for i in ids if i != ids[4]]
