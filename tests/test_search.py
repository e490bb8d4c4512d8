"""Chinese full-text search: any substring, kept in step with writes, safe with any input."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from markupsafe import Markup
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from feedback import search
from feedback.extensions import db
from feedback.filing import services
from feedback.filing.kinds import Kind
from feedback.models import Attachment, Status, Submission, User
from tests.factories import make_submission, make_user, problem_input
from tests.queries import statements

# Three submissions whose texts share no searched word unless the test says so.
PARK_GATE: dict[str, Any] = {
    "title": "园区封闭化管理卡口建设",
    "summary": "卡口车辆识别系统上线",
    "sections": {"description": "园区东区停车场危险化学品运输车辆临时停放较多，存在泄漏风险。"},
}
HOT_WORK: dict[str, Any] = {
    "title": "承包商动火作业票证管理不规范",
    "summary": "动火作业票证填写不全",
    "sections": {
        "description": "精细化工反应安全风险评估报告未按期更新，检查发现HAZOP分析缺失，2026年整改。"
    },
}
RESCUE: dict[str, Any] = {
    "title": "应急救援队伍建设经验",
    "summary": "组建专职消防队",
    "sections": {"description": "消防通道被占用的问题已于今年整改完毕。"},
}


@pytest.fixture(autouse=True)
def search_hooks() -> Iterator[None]:
    """The index hooks, as the app installs them; removed again if this module added them."""
    installed = event.contains(Session, "after_flush", search._after_flush)
    search.install()
    yield
    if not installed:
        search.uninstall()


@pytest.fixture
def author(app: Flask) -> User:
    return make_user()


@pytest.fixture
def corpus(author: User) -> dict[str, Submission]:
    return {
        name: make_submission(author, **fields)
        for name, fields in (("gate", PARK_GATE), ("hot", HOT_WORK), ("rescue", RESCUE))
    }


def found(query: str) -> set[int]:
    """Ids of the submissions that ``query`` finds."""
    return set(db.session.scalars(select(Submission.id).where(search.matching(query))))


def ids(corpus: dict[str, Submission], *names: str) -> set[int]:
    return {corpus[name].id for name in names}


def index_rows(submission_id: int) -> int:
    """How many index rows ``submission_id`` has (whatever the database)."""
    if db.engine.dialect.name == "sqlite":
        # The FTS5 table is contentless: its bookkeeping table has one row per document.
        sql = "SELECT count(*) FROM submission_fts_doc WHERE submission_id = :id"
    else:
        sql = "SELECT count(*) FROM submission_search WHERE submission_id = :id"
    return int(db.session.scalar(text(sql), {"id": submission_id}) or 0)


# -- splitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "tokens"),
    [
        ("园区安全 HAZOP 2026年", "园 区 安 全 hazop 2026 年"),
        ("安全，生产！“双重预防”", "安 全 生 产 双 重 预 防"),
        ("ＨＡＺＯＰ２０２６", "hazop2026"),  # full-width forms fold to ASCII
        ("x_y a-b 1.5", "x y a b 1 5"),
        ("ひらがな・カタカナ 한국", "ひ ら が な カ タ カ ナ 한 국"),
        ("  \n\t", ""),
        ("a" * 150, "a" * search.MAX_WORD_CHARS + " " + "a" * 50),
    ],
)
def test_split_for_index(raw: str, tokens: str) -> None:
    assert search.split_for_index(raw) == tokens


def test_document_text_has_every_searched_field(app: Flask, author: User) -> None:
    submission = make_submission(author, **PARK_GATE)
    submission.attachments.append(attachment(author, "现场照片.jpg"))
    db.session.commit()
    document = search.document_text(submission)
    for part in ("园区封闭化管理卡口建设", "卡口车辆识别系统上线", "东区停车场", "现场照片.jpg"):
        assert part in document


# -- finding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("停", {"gate"}),  # one character
        ("园区", {"gate"}),  # two characters, in the title and in a section
        ("整改", {"hot", "rescue"}),
        ("动火作业", {"hot"}),  # four characters
        ("消防通道", {"rescue"}),
        ("精细化工反应安全风险", {"hot"}),  # ten characters
        ("精细化工安全反应风险", set()),  # the same characters in another order
        ("火动", set()),
        ("区园", set()),
        ("hazop", {"hot"}),  # a Latin word, whatever its case
        ("HAZOP", {"hot"}),
        ("ＨＡＺＯＰ", {"hot"}),
        ("haz", set()),  # Latin words are whole tokens
        ("2026", {"hot"}),  # a number
        ("202", set()),
        ("卡口 停车场", {"gate"}),  # one term in the title, one in a section: both required
        ("整改 消防", {"rescue"}),
        ("队伍", {"rescue"}),
        ("不存在的词", set()),
    ],
)
def test_finds_exactly_the_submissions_with_the_substring(
    corpus: dict[str, Submission], query: str, names: set[str]
) -> None:
    assert found(query) == ids(corpus, *names)


def test_blank_query_matches_everything(corpus: dict[str, Submission]) -> None:
    everything = ids(corpus, "gate", "hot", "rescue")
    for query in ("", "   ", "\n\t", "，。！"):
        assert found(query) == everything


def test_combines_with_filters_counts_and_order(
    author: User, corpus: dict[str, Submission]
) -> None:
    services.submit(author, corpus["hot"])
    db.session.commit()
    condition = search.matching("整改")
    count = db.session.scalar(
        select(func.count())
        .select_from(Submission)
        .where(condition, Submission.status == Status.SUBMITTED)
    )
    assert count == 1
    page = db.session.scalars(
        select(Submission)
        .where(condition)
        .order_by(Submission.submitted_at.desc().nulls_last(), Submission.id.desc())
        .limit(25)
    ).all()
    assert [s.id for s in page] == [corpus["hot"].id, corpus["rescue"].id]
    assert set(db.session.scalars(select(Submission.id).where(~condition))) == ids(corpus, "gate")


def test_a_cached_statement_searches_for_the_new_query(corpus: dict[str, Submission]) -> None:
    # Same statement shape, other words: the compiled statement is reused from the cache, and
    # the words must travel as bound parameters rather than be frozen into the cached SQL.
    assert found("园区") == ids(corpus, "gate")
    assert found("消防") == ids(corpus, "rescue")
    assert found("卡口 停车") == ids(corpus, "gate")
    assert found("消防 整改") == ids(corpus, "rescue")


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '安全"',
        '"安全',
        "安全*",
        "* 安全",
        "安全 OR 园区",
        "安全 AND 园区",
        "NOT 园区",
        "NEAR(安全 风险)",
        "NEAR(安全",
        "-安全",
        "^安全",
        "document:安全",
        "{document}: 安全",
        "安全' OR '1'='1",
        "安全); DROP TABLE submission; --",
        "安全 & 园区 | !停",
        "安全 <-> 风险",
        "\\",
        "%_%",
    ],
)
def test_search_syntax_in_user_input_is_plain_text(
    corpus: dict[str, Submission], query: str
) -> None:
    hits = found(query)  # neither an error nor an operator
    words = [word for word in query.split() if search.split_for_index(word)]
    # Every word that has letters must occur: no OR, no NOT, no column filter, no prefix.
    expected = set.intersection(*(found(word) for word in words)) if words else found("")
    assert hits == expected
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 3


def test_syntax_characters_around_a_word_do_not_change_it(corpus: dict[str, Submission]) -> None:
    for query in ('"动火作业"', "动火作业*", "-动火作业", "^动火作业", "(动火作业)"):
        assert found(query) == ids(corpus, "hot")
    assert found("动火 OR 消防") == set()  # "or" is a word to find, not an operator


# -- keeping in step ---------------------------------------------------------------------------


def attachment(author: User, name: str) -> Attachment:
    return Attachment(
        original_name=name,
        stored_name=uuid.uuid4().hex,
        media_type="application/pdf",
        size=1,
        sha256="0" * 64,
        uploader_id=author.id,
    )


def test_attachment_names_are_searchable(author: User, corpus: dict[str, Submission]) -> None:
    gate = corpus["gate"]
    gate.attachments.append(attachment(author, "消防演练记录表.xlsx"))
    db.session.commit()
    assert found("演练记录") == ids(corpus, "gate")
    assert found("xlsx") == ids(corpus, "gate")
    assert found("消防") == ids(corpus, "gate", "rescue")

    removed = gate.attachments[0]
    gate.attachments.remove(removed)
    db.session.commit()
    assert found("演练记录") == set()
    assert found("消防") == ids(corpus, "rescue")


def test_renaming_an_attachment_reindexes_its_submission(
    author: User, corpus: dict[str, Submission]
) -> None:
    corpus["rescue"].attachments.append(attachment(author, "旧名称.pdf"))
    db.session.commit()
    db.session.expire_all()  # as in a later request: nothing loaded
    renamed = db.session.scalars(select(Attachment)).one()
    renamed.original_name = "新名称.pdf"
    db.session.commit()
    assert found("旧名称") == set()
    assert found("新名称") == ids(corpus, "rescue")


def test_renaming_an_expired_attachment_reindexes_its_submission(
    author: User, corpus: dict[str, Submission]
) -> None:
    added = attachment(author, "旧名称.pdf")
    corpus["rescue"].attachments.append(added)
    db.session.commit()  # expires every attribute
    added.original_name = "新名称.pdf"  # set without loading the rest of the row
    db.session.commit()
    assert found("旧名称") == set()
    assert found("新名称") == ids(corpus, "rescue")


def test_deleting_an_expired_attachment_reindexes_its_submission(
    author: User, corpus: dict[str, Submission]
) -> None:
    corpus["hot"].attachments.append(attachment(author, "票证台账.pdf"))
    db.session.commit()
    db.session.expire_all()
    db.session.delete(db.session.scalars(select(Attachment)).one())
    db.session.commit()
    assert found("票证台账") == set()
    assert found("动火") == ids(corpus, "hot")


def test_editing_a_draft_updates_the_index(author: User, corpus: dict[str, Submission]) -> None:
    gate = corpus["gate"]
    services.update_draft(
        author,
        gate,
        problem_input(
            title="港区罐区可燃气体检测报警不及时",
            summary="报警信息未推送到责任人",
            sections={"description": "港区罐区部分可燃有毒气体检测报警仪未接入平台。"},
        ),
        expected_version=gate.version,
    )
    db.session.commit()
    assert found("停") == set()
    assert found("卡口") == set()
    assert found("罐区") == ids(corpus, "gate")
    assert found("报警 平台") == ids(corpus, "gate")
    assert index_rows(gate.id) == 1


def test_a_change_outside_the_text_keeps_the_index_row(
    author: User, corpus: dict[str, Submission]
) -> None:
    services.submit(author, corpus["hot"])  # sent: on SQLite its key changes (tested below)
    db.session.commit()
    with statements() as seen:
        corpus["hot"].priority = 2
        corpus["hot"].assignee_id = author.id
        db.session.commit()
    assert not [s for s in seen if "submission_fts" in s or "submission_search" in s]
    assert found("动火作业") == ids(corpus, "hot")


def test_deleting_a_submission_removes_it(corpus: dict[str, Submission]) -> None:
    hot_id = corpus["hot"].id
    db.session.delete(corpus["hot"])
    db.session.commit()
    assert index_rows(hot_id) == 0
    assert found("整改") == ids(corpus, "rescue")


def test_a_rolled_back_edit_leaves_the_index_as_it_was(corpus: dict[str, Submission]) -> None:
    corpus["rescue"].title = "临时标题"
    db.session.flush()
    assert found("临时标题") == ids(corpus, "rescue")
    db.session.rollback()
    assert found("临时标题") == set()
    assert found("救援队伍") == ids(corpus, "rescue")


def test_reindex_after_a_core_insert(author: User, corpus: dict[str, Submission]) -> None:
    now = datetime.now(UTC)
    new_id = max(s.id for s in corpus.values()) + 100
    db.session.execute(
        insert(Submission.__table__),  # type: ignore[arg-type]
        [
            {
                "id": new_id,
                "reference": "FK-2026-900001",
                "organisation_id": author.organisation_id,
                "author_id": author.id,
                "kind": Kind.SUGGESTION,
                "title": "关于加强氢能项目安全管理的建议",
                "sections_json": '{"suggestion": "制定加氢站专项指导意见"}',
                "idempotency_key": "core-insert",
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    assert found("氢能") == set()  # Core writes bypass the ORM hooks
    assert search.reindex(db.session, [new_id]) == 1
    db.session.commit()
    assert found("氢能") == {new_id}
    assert found("加氢站") == {new_id}

    assert search.reindex(db.session) == 4  # everything, from scratch
    db.session.commit()
    assert found("氢能") == {new_id}
    assert found("整改") == ids(corpus, "hot", "rescue")
    assert all(index_rows(s.id) == 1 for s in corpus.values())


def test_reindex_drops_rows_of_submissions_that_are_gone(corpus: dict[str, Submission]) -> None:
    rescue_id = corpus["rescue"].id
    db.session.execute(
        text("DELETE FROM submission_event WHERE submission_id = :id"), {"id": rescue_id}
    )
    db.session.execute(text("DELETE FROM submission WHERE id = :id"), {"id": rescue_id})
    assert search.reindex(db.session, [rescue_id]) == 0
    db.session.commit()
    assert index_rows(rescue_id) == 0


def test_a_long_text_is_found_to_its_end(author: User) -> None:
    # Past PostgreSQL's tsvector position limit (16,383): the text is stored in parts.
    filler = "检查记录" * 2_200  # 8,800 characters per section
    submission = make_submission(
        author,
        title="长文本",
        sections={
            "description": filler,
            "cause": filler,
            "impact": filler + "末尾的独特短语",
        },
    )
    assert found("末尾的独特短语") == {submission.id}
    assert found("记录检查") == {submission.id}
    if db.engine.dialect.name == "postgresql":
        assert index_rows(submission.id) == 2


def test_windows_overlap_so_no_phrase_is_cut() -> None:
    tokens = [str(n) for n in range(40_000)]
    parts = [part.split() for part in search._windows(tokens)]
    assert all(len(part) <= search.WINDOW_TOKENS for part in parts)
    assert parts[0][0] == "0"
    assert parts[-1][-1] == "39999"
    for before, after in itertools.pairwise(parts):
        # The last MAX_PHRASE_TOKENS tokens of a part start the next one.
        assert before[-search.MAX_PHRASE_TOKENS :] == after[: search.MAX_PHRASE_TOKENS]


def test_sqlite_plan_reads_the_index(corpus: dict[str, Submission]) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite query plan")
    statement = select(func.count()).select_from(Submission).where(search.matching("安全"))
    compiled = statement.compile(db.engine)
    values = tuple(compiled.params[name] for name in compiled.positiontup or ())
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values).all()
    details = " / ".join(str(row[-1]) for row in plan)
    assert "VIRTUAL TABLE INDEX" in details
    assert "SCAN submission" not in details.replace("SCAN submission_fts", "")


# -- highlighting ------------------------------------------------------------------------------


def test_highlight_escapes_text_and_marks_hits() -> None:
    marked = search.highlight("<script>alert(1)</script>园区安全，安全第一", "安全")
    assert isinstance(marked, Markup)
    assert marked == Markup(
        "&lt;script&gt;alert(1)&lt;/script&gt;园区<mark>安全</mark>，<mark>安全</mark>第一"
    )


def test_highlight_is_case_insensitive_and_keeps_the_text_as_written() -> None:
    assert search.highlight("HAZOP 与 hazop", "Hazop") == Markup(
        "<mark>HAZOP</mark> 与 <mark>hazop</mark>"
    )


def test_highlight_never_trusts_the_query_or_cuts_an_entity() -> None:
    assert search.highlight("a<b>c", "<b>") == Markup("a<mark>&lt;b&gt;</mark>c")
    assert search.highlight("R&D amp", "amp") == Markup("R&amp;D <mark>amp</mark>")
    assert search.highlight("<i>x</i>", "") == Markup("&lt;i&gt;x&lt;/i&gt;")


def test_highlight_marks_every_term() -> None:
    assert search.highlight("动火作业票证与受限空间作业", "动火 空间") == Markup(
        "<mark>动火</mark>作业票证与受限<mark>空间</mark>作业"
    )


def test_highlight_with_context_returns_a_snippet() -> None:
    text_ = "一二三四五六七八九十安全一二三四五六七八九十"
    assert search.highlight(text_, "安全", context=3) == Markup("…八九十<mark>安全</mark>一二三…")
    assert search.highlight("安全第一", "安全", context=10) == Markup("<mark>安全</mark>第一")
    assert search.highlight("<b>没有命中</b>的文本", "园区", context=4) == Markup(
        "&lt;b&gt;没有命中&lt;…"
    )


# -- contentless index, search keys and the review queue's own path --------------------------


def _received_page(query: str, user: User, cursor: str = "") -> tuple[int, list[int], str]:
    from feedback.review import queue

    result = queue.page(queue.QueueFilters(q=query), user, cursor)
    assert result.total is not None  # a plain staff search counts exactly, from the index
    return result.total, [row.id for row in result.rows], result.next_cursor or ""


def _expected_page(query: str, limit: int) -> tuple[int, list[int]]:
    """What the generic path (a join with the index) finds for staff, newest sent first."""
    from feedback.models import RECEIVED

    where = (Submission.status.in_(RECEIVED), search.matching(query))
    total = db.session.scalar(select(func.count()).select_from(Submission).where(*where))
    ids = db.session.scalars(
        select(Submission.id)
        .where(*where)
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
        .limit(limit)
    ).all()
    return int(total or 0), list(ids)


def send(submission: Submission) -> None:
    """Received by the federation, as submit() does it, without its checks on the text."""
    submission.status = Status.SUBMITTED
    submission.submitted_at = datetime.now(UTC)
    db.session.commit()


@pytest.fixture
def reviewer(app: Flask) -> User:
    from feedback.models import Role

    return make_user(Role.REVIEWER)


def test_sent_micros_orders_like_submitted_at() -> None:
    sent = datetime(2026, 5, 1, 8, 0, 0, 900_000, tzinfo=UTC)
    assert search.sent_micros(sent) == int(sent.timestamp()) * 1_000_000 + 900_000
    assert search.sent_micros(sent) < search.sent_micros(sent.replace(microsecond=900_001))
    assert search.sent_micros(None) == 0


def keys_in_queue_order() -> bool:
    """Whether the SQLite keys of received submissions follow (status range, submitted_at, id)."""
    queue_order = [
        sid
        for status in search.QUEUE_STATUSES
        for sid in db.session.scalars(
            select(Submission.id)
            .where(Submission.status == status)
            .order_by(Submission.submitted_at, Submission.id)
        )
    ]
    key_order = db.session.scalars(
        text("SELECT submission_id FROM submission_fts_doc WHERE key > 0 ORDER BY key")
    ).all()
    return queue_order == list(key_order)


# The index lists every hit of a search with few, and counts per status range otherwise.
FEW_OR_MANY = pytest.mark.parametrize("few_hits", [search.FEW_HITS, 0], ids=["few", "many"])


@FEW_OR_MANY
def test_the_queue_search_equals_the_generic_query_page_by_page(
    author: User, reviewer: User, monkeypatch: pytest.MonkeyPatch, few_hits: int
) -> None:
    from feedback.review import queue

    monkeypatch.setattr(queue, "PAGE_SIZE", 3)
    monkeypatch.setattr(search, "FEW_HITS", few_hits)
    base = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
    made = []
    for n in range(12):
        submission = make_submission(
            author, submit=n % 6 != 5, title=f"园区安全检查第{n}次", summary="动火作业"
        )
        made.append(submission)
    # Several sent within one second, in the opposite order to their ids: the index orders by
    # whole seconds, the queue by the exact time.
    for n, submission in enumerate(made):
        if submission.submitted_at is not None:
            micro = 999_000 - n * 1_000 if n < 6 else 0
            submission.submitted_at = base.replace(second=0 if n < 6 else n, microsecond=micro)
    made[2].title = "园区其他事项"  # no longer matches 安全检查
    services.withdraw(author, made[4])  # never reached review: out of the queue
    db.session.commit()  # new dates of sending: the hooks move the keys
    if db.engine.dialect.name == "sqlite":
        assert keys_in_queue_order()
    for query in ("园区", "安全检查", "动火作业", "园区 作业", "不存在"):
        expected_total, expected_ids = _expected_page(query, limit=100)
        total, ids, cursor = _received_page(query, reviewer)
        seen = list(ids)
        while cursor:
            total_again, ids, cursor = _received_page(query, reviewer, cursor)
            assert total_again == total
            seen += ids
        assert (total, seen) == (expected_total, expected_ids), query
    assert _received_page("园区", reviewer)[0] == 9  # 12, less 2 never sent, less 1 withdrawn


def test_the_plain_staff_search_counts_from_the_index_alone(
    author: User, reviewer: User, corpus: dict[str, Submission]
) -> None:
    services.submit(author, corpus["hot"])
    db.session.commit()
    with statements() as seen:
        total, ids, _cursor = _received_page("整改", reviewer)
    assert (total, ids) == (1, [corpus["hot"].id])
    if db.engine.dialect.name == "sqlite":
        # Counted from the index: no statement reads submission once per hit.
        assert [s for s in seen if s.startswith("SELECT rowid FROM submission_fts ")]
        assert not [s for s in seen if "count(" in s.lower() and "submission_fts" not in s]
    assert not [s for s in seen if "LIKE" in s]


def test_with_other_filters_the_queue_takes_the_generic_path(
    author: User, reviewer: User, corpus: dict[str, Submission]
) -> None:
    from feedback.review import queue

    send(corpus["hot"])
    send(corpus["rescue"])
    filters = queue.QueueFilters(q="整改", status=Status.SUBMITTED.value)
    result = queue.page(filters, reviewer)
    assert {row.id for row in result.rows} == ids(corpus, "hot", "rescue")
    filters = queue.QueueFilters(q="整改", org=corpus["hot"].organisation_id + 1000)
    assert queue.page(filters, reviewer).total == 0


def test_sending_and_withdrawing_move_a_submission_in_and_out_of_the_staff_search(
    author: User, reviewer: User, corpus: dict[str, Submission]
) -> None:
    assert _received_page("动火作业", reviewer)[:2] == (0, [])
    services.submit(author, corpus["hot"])
    db.session.commit()
    assert _received_page("动火作业", reviewer)[:2] == (1, [corpus["hot"].id])
    services.withdraw(author, corpus["hot"])
    db.session.commit()
    assert _received_page("动火作业", reviewer)[:2] == (0, [])
    assert found("动火作业") == ids(corpus, "hot")  # still found where its own users look
    assert index_rows(corpus["hot"].id) == 1


def test_an_edited_or_deleted_received_submission_no_longer_matches_its_old_text(
    author: User, reviewer: User, corpus: dict[str, Submission]
) -> None:
    for name in ("gate", "hot", "rescue"):
        send(corpus[name])
    corpus["gate"].title = "港区罐区可燃气体检测"
    corpus["gate"].attachments.append(attachment(author, "检测记录.pdf"))
    db.session.commit()
    assert found("卡口建设") == set()
    assert found("罐区 检测记录") == ids(corpus, "gate")
    assert _received_page("卡口建设", reviewer)[:2] == (0, [])
    assert _received_page("罐区", reviewer)[:2] == (1, [corpus["gate"].id])

    db.session.delete(corpus["rescue"])
    db.session.commit()
    assert _received_page("消防通道", reviewer)[:2] == (0, [])
    assert _received_page("整改", reviewer)[:2] == (1, [corpus["hot"].id])
    if db.engine.dialect.name == "sqlite":
        result = db.session.execute(
            text("INSERT INTO submission_fts (submission_fts, rank) VALUES ('integrity-check', 1)")
        )
        result.close()  # raises if the index disagrees with what it was given


def test_a_core_update_then_reindex_forgets_the_old_text(
    corpus: dict[str, Submission], caplog: pytest.LogCaptureFixture
) -> None:
    gate = corpus["gate"]
    db.session.execute(
        text("UPDATE submission SET title = '港区码头装卸作业' WHERE id = :id"), {"id": gate.id}
    )
    assert found("港区码头") == set()  # not yet: Core bypasses the hooks
    search.reindex(db.session, [gate.id])
    db.session.commit()
    assert found("港区码头") == ids(corpus, "gate")
    assert found("卡口建设") == set()
    assert found("整改") == ids(corpus, "hot", "rescue")
    if db.engine.dialect.name == "sqlite":
        # The old tokens were gone, so the whole index was rebuilt, and said so.
        assert "rebuilding the index" in caplog.text


def test_an_orm_edit_after_an_unindexed_core_update_still_ends_right(
    corpus: dict[str, Submission],
) -> None:
    gate = corpus["gate"]
    db.session.execute(
        text("UPDATE submission SET summary = '码头装卸' WHERE id = :id"), {"id": gate.id}
    )
    db.session.expire(gate)
    gate.title = "新的标题"  # the tokens read before this flush are not the indexed ones
    db.session.commit()
    assert found("新的标题 码头装卸") == ids(corpus, "gate")
    assert found("卡口建设") == set()
    assert found("车辆识别") == set()


@FEW_OR_MANY
def test_submissions_sent_out_of_order_get_keys_in_queue_order(
    author: User,
    reviewer: User,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    few_hits: int,
) -> None:
    monkeypatch.setattr(search, "FEW_HITS", few_hits)
    caplog.set_level(logging.INFO, logger="feedback.search")
    base = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
    made = [make_submission(author, title=f"园区巡查记录{n}") for n in range(24)]
    for n, submission in enumerate(made[:4]):
        submission.status = Status.SUBMITTED
        submission.submitted_at = base + timedelta(hours=n)  # in order: next keys
        db.session.commit()
    # Then, one by one, each between the first two: halves the gap until none is left, and
    # the index is rebuilt in order (with a warning).
    for n, submission in enumerate(made[4:]):
        submission.status = Status.SUBMITTED
        submission.submitted_at = base + timedelta(minutes=59 - n)
        db.session.commit()
        if db.engine.dialect.name == "sqlite":
            assert keys_in_queue_order()
    expected = _expected_page("园区巡查", limit=100)
    total, seen, cursor = _received_page("园区巡查", reviewer)
    while cursor:
        _total, ids, cursor = _received_page("园区巡查", reviewer, cursor)
        seen += ids
    assert (total, seen) == expected
    if db.engine.dialect.name == "sqlite":
        assert "rebuilding the index" in caplog.text


def _every_page(filters: Any, user: User) -> tuple[list[int], Any]:
    """The ids of every queue page in order, following the cursors, and the last page."""
    from feedback.review import queue

    result = queue.page(filters, user)
    seen = [row.id for row in result.rows]
    while result.next_cursor:
        result = queue.page(filters, user, result.next_cursor)
        seen += [row.id for row in result.rows]
    return seen, result


@FEW_OR_MANY
def test_status_tabs_and_a_status_filter_equal_the_generic_query(
    author: User, reviewer: User, monkeypatch: pytest.MonkeyPatch, few_hits: int
) -> None:
    from feedback.review import queue

    monkeypatch.setattr(queue, "PAGE_SIZE", 2)
    monkeypatch.setattr(search, "FEW_HITS", few_hits)
    base = datetime(2026, 4, 1, 8, 0, 0, tzinfo=UTC)
    statuses = [Status.SUBMITTED, Status.IN_REVIEW, Status.ACCEPTED, Status.RETURNED]
    for n in range(14):
        submission = make_submission(author, title=f"园区台账{n}", summary="罐区巡检")
        submission.status = statuses[n % 4]
        submission.submitted_at = base + timedelta(minutes=(n * 7) % 11)  # out of id order
        db.session.commit()
    # A review step moves a submission to another status's range, in order.
    moved = db.session.scalars(select(Submission).where(Submission.status == "submitted")).first()
    assert moved is not None
    moved.status = Status.REPORTED
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        assert keys_in_queue_order()
    for status in ("", "submitted", "in_review", "accepted", "reported", "rejected"):
        filters = queue.QueueFilters(q="园区 巡检", status=status)
        where = [Submission.status.in_([status] if status else list(search.QUEUE_STATUSES))]
        expected = db.session.scalars(
            select(Submission.id)
            .where(*where, search.matching("园区 巡检"))
            .order_by(Submission.submitted_at.desc(), Submission.id.desc())
        ).all()
        seen, result = _every_page(filters, reviewer)
        assert seen == list(expected), status
        assert result.total == len(expected)
    counts = queue.status_counts(queue.QueueFilters(q="园区 巡检"), reviewer)
    generic = queue.status_counts(queue.QueueFilters(q="园区 巡检", kind="problem"), reviewer)
    assert counts == generic  # every test submission is a problem report: the generic path
    assert counts.exact and counts.total == 14


@FEW_OR_MANY
def test_search_with_other_filters_equals_the_unindexed_reference_page_by_page(
    author: User, reviewer: User, monkeypatch: pytest.MonkeyPatch, few_hits: int
) -> None:
    """Search + kind / organisation / status walks the index (SQLite): the same rows, in the same
    order, with the same counts, as a LIKE over the texts with the same filters."""
    from feedback.models import RECEIVED
    from feedback.review import queue

    monkeypatch.setattr(queue, "PAGE_SIZE", 2)
    monkeypatch.setattr(queue, "COUNT_CAP", 5)
    monkeypatch.setattr(search, "FEW_HITS", few_hits)
    other = make_user(name="另一单位填报人")
    base = datetime(2026, 4, 1, 8, 0, 0, tzinfo=UTC)
    statuses = [Status.SUBMITTED, Status.ACCEPTED, Status.SUBMITTED, Status.IN_REVIEW]
    for n in range(32):
        text_ = "罐区停车检修" if n % 3 else "园区巡查"
        submission = make_submission(author if n % 5 else other, title=f"{text_}{n}")
        submission.status = statuses[n % 4] if n != 7 else Status.DRAFT
        submission.submitted_at = base + timedelta(minutes=(n * 7) % 23)
        if n % 2:
            submission.kind = Kind.SUGGESTION
        db.session.commit()
    cases = [
        {"q": "停车", "kind": "suggestion"},
        {"q": "停车", "kind": "problem", "status": "accepted"},
        {"q": "停车 检修", "org": str(author.organisation_id)},
        {"q": "停车", "org": str(other.organisation_id), "status": "submitted"},
        {"q": "不存在", "kind": "problem"},
    ]
    for args in cases:
        filters = queue.QueueFilters.from_args(MultiDict(args))
        # Every status but drafts' (the reviewer's visibility), the terms by LIKE, the rest as
        # the queue has them.
        any_status = [Submission.status.in_(RECEIVED), Submission.submitted_at.is_not(None)]
        any_status += [Submission.title.like(f"%{term}%") for term in args["q"].split()]
        any_status += queue.conditions(replace(filters, status=""), reviewer, with_search=False)
        reference = [*any_status, *queue.conditions(filters, reviewer, with_search=False)]
        expected = db.session.scalars(
            select(Submission.id)
            .where(*reference)
            .order_by(Submission.submitted_at.desc(), Submission.id.desc())
        ).all()
        seen, result = _every_page(filters, reviewer)
        assert seen == list(expected), args
        by_status = Counter(db.session.scalars(select(Submission.status).where(*any_status)))
        counts = queue.status_counts(filters, reviewer)
        if sum(by_status.values()) <= 5:
            assert counts.exact, args
            assert counts.by_status == dict(by_status), args
            assert result.total == len(expected), args
        else:
            assert not counts.exact, args


def test_sqlite_search_with_a_filter_walks_the_index_in_queue_order(reviewer: User) -> None:
    """The page walks the index's keys newest first and stops at the page's size: it does not
    map every hit to its submission and sort them (336 ms for 停 + kind at 100k)."""
    from feedback.review import queue

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite query plan")
    filters = queue.QueueFilters(q="停车", kind="suggestion", status="submitted")
    statement = queue._walk(filters, reviewer, Status.SUBMITTED).limit(queue.PAGE_SIZE + 1)
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    details = [str(row[-1]) for row in plan]
    assert details[0].startswith("SCAN submission_fts VIRTUAL TABLE"), details
    assert "SEARCH submission USING INTEGER PRIMARY KEY (rowid=?)" in details, details
    assert not [d for d in details if "TEMP B-TREE" in d], details


def test_a_plain_search_with_many_hits_still_counts_exactly(
    author: User, reviewer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search alone shows its exact total, however many hits (the goal: first page and
    total); only a search with other filters is capped like the rest of the queue."""
    from feedback.review import queue

    if db.engine.dialect.name != "sqlite":
        pytest.skip("the index counts by itself on SQLite; PostgreSQL caps a search like a filter")
    monkeypatch.setattr(queue, "COUNT_CAP", 3)
    monkeypatch.setattr(search, "FEW_HITS", 2)
    monkeypatch.setattr(queue, "PAGE_SIZE", 4)
    for n in range(7):
        make_submission(author, submit=True, title=f"园区安全巡查{n}")
    db.session.commit()

    result = queue.page(queue.QueueFilters(q="安全"), reviewer)
    assert result.total == 7 and result.counts.exact
    assert len(result.rows) == 4 and result.next_cursor
    following = queue.page(queue.QueueFilters(q="安全"), reviewer, result.next_cursor)
    assert following.total == 7 and len(following.rows) == 3
    filtered = queue.page(queue.QueueFilters(q="安全", kind="problem"), reviewer)
    assert filtered.total is None and not filtered.counts.exact
