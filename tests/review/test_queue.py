"""The review queue's cost and honesty: queries per page, plans, capped counts, "has similar"."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from werkzeug.datastructures import MultiDict

from feedback.extensions import db
from feedback.filing import services as filing
from feedback.filing.choices import tag_choices
from feedback.filing.services import visible_submissions
from feedback.models import LinkStatus, Role, SimilarityLink, Status, Submission, Tag, User
from feedback.review import queue, services
from tests.conftest import login
from tests.factories import PASSWORD, make_submission, make_user, plan_item
from tests.queries import statements

# What one queue page asks the database, whatever the filters and however many rows:
#   2  the logged-in user and their roles (Flask-Login, every page)
#   1  unread notifications (the navigation badge, every page)
#   1  the status tabs' counts (capped), +1 for the page's total when a status is chosen and
#      the tabs' count reached the cap
#   1  with a plan filter: the ids of the item and its sub-items (the counts read the link
#      table's index for each id; SQLite scans the whole table for a subquery instead)
#   1  the page's rows (organisations joined)
#   2  their assignees and the assignees' roles (one selectin query each, not one per row)
#   1  the menus' version (feedback/menus.py), and, the first time a process serves that
#      version (as here: every test has a fresh app), the menus themselves: reviewers, tags,
#      plan items and consolidated suggestions, 1 each (test_menus.py: none when unchanged)
#   1  saved views
#      (+1 for a compiler: the reports, for "add to a report"; this test logs in a reviewer)
# = 16 at most ("BEGIN", which the SQLite driver sends as a statement, not counted).
QUERY_BUDGET = 16


def _sent(author: User, **overrides: object) -> Submission:
    return make_submission(author, submit=True, **overrides)


def _reviewer(client: FlaskClient) -> User:
    reviewer = make_user(Role.REVIEWER, name="王审核")
    login(client, reviewer.email, PASSWORD)
    return reviewer


def _link(x: Submission, y: Submission, status: LinkStatus = LinkStatus.DETECTED) -> None:
    a, b = sorted((x.id, y.id))
    db.session.add(SimilarityLink(submission_a_id=a, submission_b_id=b, score=0.8, status=status))
    db.session.commit()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?status=submitted",
        "?status=submitted&kind=problem&plan=S3&attachments=",
        "?tag={tag}&status=submitted&similar=1",
        "?assignee=mine&q=动火&org_kind=park",
    ],
)
def test_queue_page_stays_within_its_query_budget(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    """The worst case: rows from many organisations, assigned to several reviewers, and a
    capped count (which costs a second count when a status is chosen)."""
    reviewer = _reviewer(client)
    others = [make_user(Role.REVIEWER) for _ in range(3)]
    s3 = plan_item("S3")  # seeds the vocabulary, tags included
    tag = db.session.get(Tag, tag_choices()[0][0])
    assert tag is not None
    sent = []
    for n in range(8):
        submission = _sent(make_user(), plan_item_ids=[s3.id])
        submission.tags.append(tag)
        services.assign(reviewer, submission, reviewer if n % 2 else others[n % 3])
        sent.append(submission)
    db.session.execute(delete(SimilarityLink))
    db.session.commit()
    for x, y in itertools.pairwise(sent):
        _link(x, y)
    monkeypatch.setattr(queue, "COUNT_CAP", 3)
    url = f"/review/{query.format(tag=tag.id)}"
    with statements() as seen:
        page = client.get(url).get_data(as_text=True)
    assert len(re.findall(r'name="ids" value="\d+"', page)) >= 4  # rows were shown
    assert len(seen) <= QUERY_BUDGET, "\n".join(seen)


def _titles(page: str) -> set[str]:
    return set(re.findall(r'href="/review/\d+">([^<]+)</a>', page))


def test_counts_stop_at_the_cap_and_the_page_says_so(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "COUNT_CAP", 3)
    author = make_user()
    sent = [_sent(author, title=f"第{n}份封顶计数的材料") for n in range(3)]
    reviewer = _reviewer(client)
    page = client.get("/review/").get_data(as_text=True)
    assert "共 3 份" in page and "超过" not in page  # at the cap: still exact
    assert re.search(r"已报送\s*<span[^>]*>3</span>", page)

    _sent(author)
    filing.decide(reviewer, sent[0], "start_review", "")
    db.session.commit()
    page = client.get("/review/").get_data(as_text=True)
    assert "共 4 份" not in page and "超过 3 份" in page
    assert "对全部符合条件的材料（超过 3 份）" in page
    assert ">3+</span>" in page  # the "all" tab
    assert not re.search(r"已报送\s*<span", page)  # no partial count per status
    # A status with fewer rows than the cap still gets its exact total.
    page = client.get("/review/?status=in_review").get_data(as_text=True)
    assert "共 1 份" in page and "超过" not in page
    page = client.get("/review/?status=submitted").get_data(as_text=True)
    assert "共 3 份" in page


def test_has_similar_needs_a_live_link_to_a_visible_submission(client: FlaskClient) -> None:
    author, other = make_user(), make_user()
    linked_a = _sent(author, title="与另一份相似的材料甲")
    linked_b = _sent(other, title="与另一份相似的材料乙")
    dismissed_a = _sent(author, title="相似已被否定的材料丙")
    dismissed_b = _sent(other, title="相似已被否定的材料丁")
    only_draft = _sent(author, title="只和草稿相似的材料戊")
    draft = make_submission(other, title="还在草稿里的相似材料")
    _sent(author, title="没有任何相似的材料己")
    stale_a = _sent(author, title="先被发现后被否定的材料庚")
    stale_b = _sent(other, title="先被发现后被否定的材料辛")
    db.session.execute(delete(SimilarityLink))  # only the links below
    db.session.commit()
    _link(linked_a, linked_b)
    _link(dismissed_a, dismissed_b, LinkStatus.DISMISSED)
    _link(only_draft, draft)
    # Found, then dismissed: the two keep similar_hint (only a rebuild clears it), and the
    # queue must still leave them out on PostgreSQL, where it reads the hint first.
    _link(stale_a, stale_b)
    found = db.session.scalars(
        select(SimilarityLink).where(SimilarityLink.submission_a_id == min(stale_a.id, stale_b.id))
    ).one()
    found.status = LinkStatus.DISMISSED
    db.session.commit()
    hinted = select(Submission.id).where(Submission.similar_hint)
    assert {stale_a.id, stale_b.id, only_draft.id} <= set(db.session.scalars(hinted))
    _reviewer(client)
    page = client.get("/review/?similar=1").get_data(as_text=True)
    assert _titles(page) == {"与另一份相似的材料甲", "与另一份相似的材料乙"}
    assert 'id="similar" name="similar" value="1" checked' in page
    assert '<label class="form-check-label small" for="similar">有相似材料</label>' in page
    # Confirmed counts too; the filter combines with the others.
    link = db.session.scalars(select(SimilarityLink)).first()
    assert link is not None
    link.status = LinkStatus.CONFIRMED
    db.session.commit()
    page = client.get(f"/review/?similar=1&org={other.organisation_id}").get_data(as_text=True)
    assert _titles(page) == {"与另一份相似的材料乙"}
    assert "没有任何相似的材料己" in client.get("/review/").get_data(as_text=True)


def _reference(
    filters: queue.QueueFilters, reviewer: User, *, with_status: bool
) -> dict[Status, int]:
    """Per-status counts of every row the generic query matches (no cap, no link table)."""
    query = visible_submissions(reviewer).where(
        *queue.conditions(filters, reviewer, with_status=with_status)
    )
    return dict(Counter(row.status for row in db.session.scalars(query)))


@pytest.mark.parametrize(
    "args",
    [
        {"tag": "{tag}"},
        {"tag": "{tag}", "status": "submitted"},
        {"tag": "{tag}", "kind": "problem", "similar": "1"},
        {"plan": "S"},
        {"plan": "S", "status": "in_review"},
        {"plan": "S3", "org": "{org}"},
        {"similar": "1"},
        {"similar": "1", "status": "submitted"},
        {"similar": "1", "plan": "S3"},
    ],
)
def test_counts_read_from_a_link_table_equal_the_generic_query(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, args: dict[str, str]
) -> None:
    """A tag, a plan item or "has similar" is counted from its link table (linked_count): each
    submission once (an item and its sub-item, several links), only rows the other filters and
    the reviewer's visibility allow, and never more than COUNT_CAP + 1."""
    author, other = make_user(), make_user()
    reviewer = _reviewer(client)
    s, s3 = plan_item("S").id, plan_item("S3").id  # seeds the taxonomy, tags included
    tag = db.session.get(Tag, tag_choices()[0][0])
    assert tag is not None
    both = _sent(author, title="规划大项和子项都勾选", plan_item_ids=[s, s3])
    sub = _sent(other, title="只勾选子项", plan_item_ids=[s3])
    top = _sent(author, title="只勾选大项", plan_item_ids=[s])
    reviewed = _sent(other, title="已在审核中的材料", plan_item_ids=[s3])
    filing.decide(reviewer, reviewed, "start_review", "")
    draft = make_submission(author, title="草稿不计入", plan_item_ids=[s, s3])
    plain = _sent(other, title="其他规划条目、没有标签", plan_item_ids=[plan_item("G").id])
    for submission in (both, sub, reviewed, draft):
        submission.tags.append(tag)
    db.session.commit()
    db.session.execute(delete(SimilarityLink))
    db.session.commit()
    _link(both, sub)
    _link(both, top)  # "both" has two links: counted once
    _link(reviewed, draft)  # a link to a draft does not count
    _link(plain, top, LinkStatus.DISMISSED)
    values = {k: v.format(tag=tag.id, org=author.organisation_id) for k, v in args.items()}
    filters = queue.QueueFilters.from_args(MultiDict(values))
    if "tag" not in args and "plan" not in args and db.engine.dialect.name == "postgresql":
        # Has-similar alone is counted by the generic query on PostgreSQL (see linked_count).
        assert queue.linked_count(filters, reviewer) is None
        return
    for with_status in (True, False):
        expected = _reference(filters, reviewer, with_status=with_status)
        statement = queue.linked_count(filters, reviewer, with_status=with_status)
        assert statement is not None
        assert queue._capped(statement) == expected, (with_status, expected)
    # Past the cap the count stops at COUNT_CAP + 1, as the generic one does.
    total = sum(_reference(filters, reviewer, with_status=False).values())
    monkeypatch.setattr(queue, "COUNT_CAP", 0)
    statement = queue.linked_count(filters, reviewer, with_status=False)
    assert statement is not None
    assert sum(queue._capped(statement).values()) == min(total, 1)


def test_a_page_s_statements_are_built_once_per_filter_and_user(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second request of the same page reuses the statements the first built."""
    _reviewer(client)
    _sent(make_user())
    built: list[object] = []
    real = queue.conditions

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(queue, "conditions", counting)
    for url in ("/review/?status=submitted&kind=problem", "/review/?status=submitted&kind=problem"):
        assert client.get(url).status_code == 200
    first = len(built)
    assert first > 0
    assert client.get("/review/?status=submitted&kind=problem").status_code == 200
    assert len(built) == first  # nothing built again
    assert client.get("/review/?status=submitted").status_code == 200
    assert len(built) > first  # another filter is another statement


def test_reused_statements_follow_the_plan_tree(client: FlaskClient) -> None:
    """A plan filter's statements hold the ids of the item's sub-items: a sub-item added later
    (by an administrator, in another request) is in the next page's statements."""
    from feedback.models import PlanItem

    _reviewer(client)
    s3 = plan_item("S3")
    first = _sent(make_user(), title="第一份S3材料", plan_item_ids=[s3.id])
    page = client.get("/review/?plan=S3").get_data(as_text=True)
    assert "第一份S3材料" in page and "共 1 份" in page
    newer = PlanItem(code="S3.9", parent_id=s3.id, name="新增子项")
    db.session.add(newer)
    db.session.commit()
    second = _sent(make_user(), title="新子项下的材料", plan_item_ids=[newer.id])
    page = client.get("/review/?plan=S3").get_data(as_text=True)
    assert {first.title, second.title} <= _titles(page)
    assert "共 2 份" in page  # the count reads the link table for the sub-items' ids


def test_mine_is_each_reviewer_s_own(client: FlaskClient) -> None:
    """Statements are kept per user: "assigned to me" is never another reviewer's list."""
    me = _reviewer(client)
    other = make_user(Role.REVIEWER, name="另一位审核")
    for reviewer, title in ((me, "分给我的材料"), (other, "分给别人的材料")):
        submission = _sent(make_user(), title=title)
        services.assign(reviewer, submission, reviewer)
    db.session.commit()
    assert _titles(client.get("/review/?assignee=mine").get_data(as_text=True)) == {"分给我的材料"}
    theirs = client.application.test_client()
    login(theirs, other.email, PASSWORD)
    assert _titles(theirs.get("/review/?assignee=mine").get_data(as_text=True)) == {
        "分给别人的材料"
    }
