"""The review queue's main queries read an index, not the whole table, on SQLite and PostgreSQL.

SQLite is asked on a fresh database (no statistics, as after a migration): its choice there is
made from the schema alone. PostgreSQL chooses by cost, so it gets 20,000 submissions in the
proportions of a busy year and ``ANALYZE`` first; without them a sequential scan and a sort of a
handful of rows is rightly the cheapest plan, and asserting anything about it would prove nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Select, select, text
from werkzeug.datastructures import MultiDict

from feedback.extensions import db
from feedback.filing.choices import tag_choices
from feedback.models import Campaign, Role, Submission, User
from feedback.review import queue
from tests.factories import make_campaign, make_submission, make_user

ROWS = 20_000  # PostgreSQL only


def _populate_postgres(template: Submission, campaign_id: int | None) -> None:
    """ROWS copies of ``template``: one in ten still a draft (never sent), the rest received in
    several statuses and kinds, one in twenty in a campaign, sent a minute apart."""
    overrides = {
        "reference": "'T' || g",
        "idempotency_key": "'plan-' || g",
        # Most of a year's submissions have been dealt with; a reviewer's filters pick the few
        # that have not (a status the planner must reach through its index).
        "status": "CASE WHEN g % 20 < 2 THEN 'draft' WHEN g % 20 = 2 THEN 'submitted' "
        "WHEN g % 20 = 3 THEN 'in_review' WHEN g % 20 < 12 THEN 'reported' "
        "WHEN g % 20 < 17 THEN 'accepted' ELSE 'rejected' END",
        "kind": "CASE g % 3 WHEN 0 THEN 'problem' WHEN 1 THEN 'suggestion' ELSE 'experience' END",
        "submitted_at": "CASE WHEN g % 20 < 2 THEN NULL "
        "ELSE submitted_at - g * INTERVAL '1 minute' END",
        "campaign_id": "CASE WHEN g % 20 = 1 THEN CAST(:campaign AS INTEGER) END",
    }
    columns = [c.name for c in Submission.__table__.columns if c.name != "id"]
    values = ", ".join(overrides.get(name, name) for name in columns)
    db.session.execute(
        text(
            f"INSERT INTO submission ({', '.join(columns)}) SELECT {values} "  # noqa: S608 - our own column names
            "FROM submission, generate_series(1, :rows) AS g WHERE submission.id = :template"
        ),
        {"rows": ROWS, "template": template.id, "campaign": campaign_id},
    )
    db.session.commit()
    db.session.execute(text("ANALYZE submission"))
    db.session.commit()


@pytest.fixture
def reviewer(app: Flask) -> User:
    """A reviewer, and (on PostgreSQL) a table large enough for the planner to choose."""
    reviewer = make_user(Role.REVIEWER)
    template = make_submission(make_user(), submit=True)
    if db.engine.dialect.name == "postgresql":
        _populate_postgres(template, make_campaign().id)
    return reviewer


def _plan(statement: Select[Any]) -> tuple[str, list[dict[str, Any]]]:
    """The plan of ``statement``: SQLite's details joined by " / ", or PostgreSQL's nodes."""
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    connection = db.session.connection()
    if db.engine.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return " / ".join(str(row[-1]) for row in rows), []
    raw = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}").scalar_one()
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
    return json.dumps(nodes, ensure_ascii=False), nodes


def _submission_scans(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in nodes if n.get("Relation Name") == "submission"]


# (filters, the index that must serve them: one whose order is the queue's, so no sort)
PAGES = [
    ({}, "ix_submission_submitted"),
    ({"status": "submitted"}, "ix_submission_status_submitted"),
    ({"status": "submitted", "kind": "problem"}, "ix_submission_status_kind_submitted"),
    ({"campaign": "{campaign}"}, "ix_submission_campaign_submitted"),
    ({"sort": "oldest"}, "ix_submission_submitted"),
]


def _filters(args: dict[str, str]) -> queue.QueueFilters:
    campaign = ""
    if "campaign" in args:
        found = db.session.scalars(select(Campaign.id)).first()
        campaign = str(found or make_campaign().id)
    values = {key: value.format(campaign=campaign) for key, value in args.items()}
    return queue.QueueFilters.from_args(MultiDict(values))


def _page_statement(filters: queue.QueueFilters, reviewer: User, deep: bool) -> Select[Any]:
    """Page 1's statement, or (``deep``) the statement of a page after a keyset cursor."""
    statement = queue.ordered(filters, reviewer)
    if deep:
        # A cursor a few pages in (on SQLite's few rows: any sent submission's place).
        middle = (
            db.session.scalars(statement.offset(queue.PAGE_SIZE * 3).limit(1)).first()
            or db.session.scalars(
                select(Submission).where(Submission.submitted_at.isnot(None))
            ).first()
        )
        assert middle is not None
        keyset = queue._after(queue._encode(middle.submitted_at, middle.id), filters)
        assert keyset is not None
        statement = statement.where(keyset)
    return statement.limit(queue.PAGE_SIZE + 1)


@pytest.mark.parametrize(("args", "index"), PAGES)
def test_a_queue_page_walks_an_index_in_order(
    reviewer: User, args: dict[str, str], index: str
) -> None:
    """Page 1, and a page after a keyset cursor, read the index in the queue's order and stop
    after 26 rows: no full scan, no sort (which would read every matching row first)."""
    filters = _filters(args)
    for deep in (False, True):
        details, nodes = _plan(_page_statement(filters, reviewer, deep))
        if db.engine.dialect.name == "sqlite":
            assert f"USING INDEX {index}" in details, details
            assert "TEMP B-TREE" not in details, details
            if deep:  # a seek to the cursor, not a walk from the top
                assert "submitted_at<?" in details or "submitted_at>?" in details, details
            continue
        scans = [(n["Node Type"], n.get("Index Name")) for n in _submission_scans(nodes)]
        assert scans == [("Index Scan", index)], details
        assert not [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")], details
        if deep:  # the cursor bounds the index scan itself, not a filter on every row
            assert "submitted_at" in _submission_scans(nodes)[0].get("Index Cond", ""), details


@pytest.mark.parametrize(
    ("args", "indexes"),
    [
        # Without statistics SQLite breaks ties between equally good indexes by their order in
        # the schema, and Alembic's batch mode recreates a table's indexes in an order that
        # changes from run to run (string hashing): any index that holds the status serves.
        (
            {},
            {
                "ix_submission_status_submitted",
                "ix_submission_status_kind_submitted",
                "ix_submission_org_status_updated",
                "ix_submission_assignee_status",
            },
        ),
        (
            {"status": "submitted"},
            {"ix_submission_status_submitted", "ix_submission_status_kind_submitted"},
        ),
        ({"status": "submitted", "kind": "problem"}, {"ix_submission_status_kind_submitted"}),
    ],
)
def test_the_capped_count_reads_an_index_only(
    reviewer: User, args: dict[str, str], indexes: set[str]
) -> None:
    """The status tabs' count (and the page's total when it is capped) takes at most
    COUNT_CAP + 1 entries of a (status, …) index, never rows of the table."""
    filters = _filters(args)
    # Without a status: the tabs' count; with one: the page's total once the tabs hit the cap.
    statement = queue.capped_count(queue.filtered(filters, reviewer))
    details, nodes = _plan(statement)
    if db.engine.dialect.name == "sqlite":
        assert "SCAN submission" not in details.replace("SCAN submission USING", ""), details
        assert any(f"COVERING INDEX {index}" in details for index in indexes), details
        return
    # Under the LIMIT a sequential scan is as cheap, so PostgreSQL is asked what it does when
    # told to avoid one: it still takes one when no index can answer, which fails here.
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    details, nodes = _plan(statement)
    scans = _submission_scans(nodes)
    assert scans and all(n["Node Type"] != "Seq Scan" for n in scans), details
    assert {n["Index Name"] for n in nodes if "Index Name" in n} & indexes, details


# sqlite_stat1 as ANALYZE leaves it after `seed-demo --submissions 100000` and the links of
# bench/queue_bench.py (copied from such a database): which way round SQLite joins a link table
# and submission depends on them. Without statistics it guesses ten rows for any equality and
# may walk the status index instead; migration c9d0e1f2a3b4 and seed-demo run ANALYZE.
STATISTICS_100K = [
    ("similarity_link", "ix_similarity_link_submission_b_id", "4999 1"),
    ("similarity_link", "sqlite_autoindex_similarity_link_1", "4999 1 1"),
    ("submission_plan_item", "ix_submission_plan_item_item_submission", "199883 8329 1"),
    ("submission_plan_item", "sqlite_autoindex_submission_plan_item_1", "199883 2 1"),
    ("submission_tag", "ix_submission_tag_tag_submission", "149453 2198 1"),
    ("submission_tag", "sqlite_autoindex_submission_tag_1", "149453 2 1"),
    ("plan_item", "sqlite_autoindex_plan_item_1", "24 24 1"),
    ("submission", "ix_submission_queue_columns", "100000 1 1 1 1 1 1 1"),
    ("submission", "ix_submission_campaign_submitted", "100000 33334 2 1"),
    ("submission", "ix_submission_status_submitted", "100000 11112 2 1"),
    ("submission", "ix_submission_submitted", "100000 2 1"),
    ("submission", "ix_submission_assignee_status", "100000 25000 5000 2"),
    ("submission", "ix_submission_org_status_updated", "100000 1352 151 1"),
    ("submission", "ix_submission_status_kind_submitted", "100000 11112 3704 2 1"),
    ("submission", "ix_submission_org_updated", "100000 1352 1 1"),
    ("submission", "ix_submission_campaign_org", "100000 33334 451"),
    ("submission", "ix_submission_author_id", "100000 1352"),
]


def _statistics_of_100k() -> None:
    """Give SQLite the statistics of a 100k database (see STATISTICS_100K)."""
    db.session.execute(text("ANALYZE"))  # creates sqlite_stat1
    db.session.execute(text("DELETE FROM sqlite_stat1"))
    for table, index, stat in STATISTICS_100K:
        db.session.execute(
            text("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (:t, :i, :s)"),
            {"t": table, "i": index, "s": stat},
        )
    db.session.execute(text("ANALYZE sqlite_schema"))  # reloads them


@pytest.mark.parametrize(
    ("args", "link_index"),
    [
        ({"tag": "{tag}", "status": "submitted"}, "ix_submission_tag_tag_submission"),
        ({"plan": "S3", "status": "submitted"}, "ix_submission_plan_item_item_submission"),
        ({"plan": "S", "kind": "problem"}, "ix_submission_plan_item_item_submission"),
    ],
)
def test_a_count_with_a_tag_or_plan_item_reads_the_links_index(
    reviewer: User, args: dict[str, str], link_index: str
) -> None:
    """With a tag or a plan item the capped count reads that link's (key, submission) index and
    checks each submission in ix_submission_queue_columns: never the table's rows, never a scan
    of every submission or of every link."""
    from tests.factories import plan_item

    tag_id = tag_choices()[0][0] if plan_item("S3") else None
    assert tag_id is not None
    if db.engine.dialect.name == "sqlite":
        _statistics_of_100k()
    filters = _filters({key: value.replace("{tag}", str(tag_id)) for key, value in args.items()})
    for with_status in (True, False):
        statement = queue.linked_count(filters, reviewer, with_status=with_status)
        assert statement is not None
        details, nodes = _plan(statement)
        if db.engine.dialect.name == "sqlite":
            assert f"USING COVERING INDEX {link_index}" in details, details
            assert "USING COVERING INDEX ix_submission_queue_columns" in details, details
            assert "SCAN submission" not in details, details  # neither table read whole
            continue
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        details, nodes = _plan(statement)
        assert all(n["Node Type"] != "Seq Scan" for n in nodes), details
        assert link_index in details, details


def test_has_similar_probes_the_links_per_row(reviewer: User) -> None:
    """The has-similar page walks an index in the queue's order and probes the links of each row
    (no list of every link, no sort); on SQLite its count reads the links as it goes (no
    temporary copy of them) and checks submissions in ix_submission_queue_columns. On
    PostgreSQL the page and the count read only the rows whose similar_hint is set, from
    ix_submission_similar, and probe their links: never a hash of every link (built anew for
    each statement, it cost 60-80 ms at 100,000)."""
    filters = _filters({"similar": "1", "status": "submitted"})
    details, nodes = _plan(_page_statement(filters, reviewer, deep=False))
    if db.engine.dialect.name == "sqlite":
        assert "USING INDEX ix_submission_status_submitted" in details, details
        assert "TEMP B-TREE" not in details and "LIST SUBQUERY" not in details, details
        _statistics_of_100k()
        statement = queue.linked_count(filters, reviewer)
        assert statement is not None
        details, _ = _plan(statement)
        assert "MATERIALIZE" not in details, details
        assert "SEARCH submission USING COVERING INDEX ix_submission_queue_columns" in details
        return
    assert not [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")], details
    assert [n.get("Index Name") for n in _submission_scans(nodes)][:1] == [
        "ix_submission_similar"
    ], details
    assert "hashed SubPlan" not in details, details
    details, nodes = _plan(queue.capped_count(queue.filtered(filters, reviewer)))
    assert [n.get("Index Name") for n in _submission_scans(nodes)][:1] == [
        "ix_submission_similar"
    ], details
    assert "hashed SubPlan" not in details, details
