"""The review queue: filters from the URL, status tabs, keyset pagination, Chinese search."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from flask import current_app, has_app_context
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    event,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import (
    Session,
    aliased,
    selectinload,
)
from werkzeug.datastructures import MultiDict

from feedback import menus, search
from feedback.extensions import db
from feedback.filing.kinds import Kind
from feedback.filing.services import visible_condition, visible_submissions
from feedback.formatting import CHINA
from feedback.models import (
    RECEIVED,
    STAFF_ROLES,
    Attachment,
    LinkStatus,
    Organisation,
    OrgKind,
    PlanItem,
    SimilarityLink,
    Status,
    Submission,
    User,
    submission_plan_item,
    submission_tag,
)
from feedback.paging import bounded_int

PAGE_SIZE = 25
FILTER_KEYS = ("status", "kind", "org", "org_kind", "province", "plan", "tag", "campaign",
               "assignee", "from", "to", "attachments", "similar", "q", "sort")  # fmt: skip


@dataclass
class QueueFilters:
    """The queue's filters, as they appear in the URL (shareable and bookmarkable)."""

    status: str = ""
    kind: str = ""
    org: int | None = None
    org_kind: str = ""
    province: str = ""
    plan: str = ""
    tag: int | None = None
    campaign: int | None = None
    assignee: str = ""  # "mine", "unassigned" or a user id
    date_from: date | None = None
    date_to: date | None = None
    attachments: bool = False
    similar: bool = False  # has a detected or confirmed similar submission
    q: str = ""
    sort: str = "newest"
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> QueueFilters:
        """Parse request arguments; anything malformed is ignored, never an error."""

        def number(name: str) -> int | None:
            raw = args.get(name, "")
            return bounded_int(raw)

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        return cls(
            status=args.get("status", "") if args.get("status", "") in set(Status) else "",
            kind=args.get("kind", "") if args.get("kind", "") in set(Kind) else "",
            org=number("org"),
            org_kind=args.get("org_kind", "") if args.get("org_kind", "") in set(OrgKind) else "",
            province=args.get("province", "")[:6] if args.get("province", "").isdigit() else "",
            plan=args.get("plan", "")[:20].strip().upper(),
            tag=number("tag"),
            campaign=number("campaign"),
            assignee=args.get("assignee", "")[:10],
            date_from=day("from"),
            date_to=day("to"),
            attachments=args.get("attachments") == "1",
            similar=args.get("similar") == "1",
            q=" ".join(args.get("q", "").split())[:50],
            sort="oldest" if args.get("sort") == "oldest" else "newest",
        )

    def to_args(self, **changes: Any) -> dict[str, str]:
        """The filters as URL arguments (empty ones left out), with ``changes`` applied."""
        values: dict[str, Any] = {
            "status": self.status, "kind": self.kind, "org": self.org, "org_kind": self.org_kind,
            "province": self.province, "plan": self.plan, "tag": self.tag,
            "campaign": self.campaign, "assignee": self.assignee,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "attachments": "1" if self.attachments else "",
            "similar": "1" if self.similar else "", "q": self.q,
            "sort": "" if self.sort == "newest" else self.sort,
        }  # fmt: skip
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}


def _plan_subtree(code: str) -> ColumnElement[bool]:
    # Codes are hierarchical: "S" covers S1…S6; "S3" covers S3.1, S3.2 …
    below = f"{code}%" if len(code) == 1 else f"{code}.%"
    return or_(PlanItem.code == code, PlanItem.code.like(below))


def _has_similar(user: User) -> ColumnElement[bool]:
    """A link not dismissed, on either side, to a submission ``user`` may see (as
    :func:`feedback.review.similarity.similar_to` lists them)."""
    link = SimilarityLink
    other = aliased(Submission)
    live = link.status != LinkStatus.DISMISSED
    postgres = db.session.get_bind().dialect.name == "postgresql"

    def linked(this: Any, that: Any) -> ColumnElement[bool]:
        # Probed per row through the link's index on either side, with the other submission
        # found by its primary key: a page walks the queue's own index in order and stops after
        # a page (an IN list would first read every link and sort every row it marks).
        probe = select(link.id).where(
            this == Submission.id, live, other.id == that, visible_condition(user, other)
        )
        if postgres:
            # OFFSET 0 keeps PostgreSQL from turning the probe into a hash of every live link
            # joined with every visible submission, built anew for each statement (60-80 ms at
            # 100,000 against 2-7 ms for the probes of the rows the hint marks).
            probe = probe.offset(0)
        return probe.exists()

    either = or_(
        linked(link.submission_a_id, link.submission_b_id),
        linked(link.submission_b_id, link.submission_a_id),
    )
    if postgres:
        # Only rows whose hint is set are probed, read from ix_submission_similar by status and
        # date (SQLite walks its status index and probes each row: its statements are within
        # the goal that way, bench/RESULTS.md).
        return and_(Submission.similar_hint, either)
    return either


def conditions(
    filters: QueueFilters, user: User | None, *, with_status: bool = True, with_search: bool = True
) -> list[Any]:
    """SQL conditions for the filters (``with_status=False`` for the status tab counts,
    ``with_search=False`` when the search index drives the statement); with no user (the
    command line) "mine" matches nothing."""
    where: list[Any] = []
    if with_status and filters.status:
        where.append(Submission.status == Status(filters.status))
    if filters.kind:
        where.append(Submission.kind == Kind(filters.kind))
    if filters.org:
        where.append(Submission.organisation_id == filters.org)
    if filters.org_kind or filters.province:
        orgs = select(Organisation.id)
        if filters.org_kind:
            orgs = orgs.where(Organisation.kind == OrgKind(filters.org_kind))
        if filters.province:
            orgs = orgs.where(Organisation.region_code.like(f"{filters.province[:2]}%"))
        where.append(Submission.organisation_id.in_(orgs))
    if filters.plan:
        items = select(PlanItem.id).where(_plan_subtree(filters.plan))
        where.append(
            exists().where(
                submission_plan_item.c.submission_id == Submission.id,
                submission_plan_item.c.plan_item_id.in_(items),
            )
        )
    if filters.tag:
        # IN, not EXISTS: a tag marks a few percent of submissions, and the tag's index finds
        # them; EXISTS would probe every row of the queue for it.
        tagged = select(submission_tag.c.submission_id).where(
            submission_tag.c.tag_id == filters.tag
        )
        where.append(Submission.id.in_(tagged))
    if filters.campaign:
        where.append(Submission.campaign_id == filters.campaign)
    if filters.assignee == "mine":
        where.append(Submission.assignee_id == user.id if user else false())
    elif filters.assignee == "unassigned":
        where.append(Submission.assignee_id.is_(None))
    elif (assignee_id := bounded_int(filters.assignee)) is not None:
        where.append(Submission.assignee_id == assignee_id)
    if filters.date_from:
        start = datetime.combine(filters.date_from, time.min, CHINA).astimezone(UTC)
        where.append(Submission.submitted_at >= start)
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, CHINA)
        where.append(Submission.submitted_at < end.astimezone(UTC))
    if filters.attachments:
        where.append(exists().where(Attachment.submission_id == Submission.id))
    if filters.similar and user is not None:
        where.append(_has_similar(user))
    if filters.q and with_search:
        where.append(search.matching(filters.q))
    return where


def filtered(filters: QueueFilters, user: User) -> Select[Any]:
    """Every submission the user may review that matches the filters (unordered)."""
    return visible_submissions(user).where(*conditions(filters, user))


# Counting stops here. An exact count of the filtered rows costs what scanning them costs, at
# 100,000 more than the whole page may (PERFORMANCE.md §6); a capped count costs about the cap
# divided by the share of rows that match, and past a few hundred a reviewer narrows the filter
# rather than reads on.
COUNT_CAP = 500


@dataclass
class StatusCounts:
    """How many match, per status (the tabs) and in all, counted up to :data:`COUNT_CAP`.

    ``exact`` is False when more than ``COUNT_CAP`` match the filters other than status: then
    ``by_status`` is empty (a partial count per status would mislead) and the page says "more
    than 500" instead of a number.
    """

    by_status: dict[Status, int]
    exact: bool

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def capped_count(query: Select[Any]) -> Select[tuple[Any, int]]:
    """Per-status counts of at most ``COUNT_CAP + 1`` of the rows ``query`` matches (the
    statement, for :func:`_capped` and the query-plan tests)."""
    return _per_status(query.with_only_columns(Submission.status).order_by(None))


def _per_status(sample: Select[*tuple[Any, ...]]) -> Select[tuple[Any, int]]:
    """Per-status counts of the first ``COUNT_CAP + 1`` rows of ``sample`` (a ``status``
    column, and any others)."""
    # The cap written into the statement, not bound: SQLite plans a DISTINCT (linked_count) to
    # stream under a limit it can see, and sorts or scans everything under one it cannot.
    cap = literal(COUNT_CAP + 1, literal_execute=True)
    inner = sample.limit(cap).subquery()
    return select(inner.c.status, func.count()).group_by(inner.c.status)


def _capped(statement: Select[tuple[Any, int]]) -> dict[Status, int]:
    """The received statuses' counts of a :func:`capped_count` or :func:`linked_count`."""
    rows = db.session.execute(statement)
    return {Status(status): count for status, count in rows if status in RECEIVED}


def _plan_item_ids(code: str) -> list[int]:
    """The ids of plan item ``code`` and its sub-items, once per request. Given as a list, not a
    subquery: SQLite seeks the link table's index for each id of a list, but scans the whole
    table for a subquery whose size it cannot estimate."""
    cache: dict[Any, Any] = db.session.info.setdefault(_HITS, {})
    key = ("plan", code)
    if key not in cache:
        cache[key] = list(db.session.scalars(select(PlanItem.id).where(_plan_subtree(code))))
    return list(cache[key])


def linked_count(
    filters: QueueFilters, user: User, *, with_status: bool = True
) -> Select[tuple[Any, int]] | None:
    """Per-status counts of at most ``COUNT_CAP + 1`` matching rows, read from the link table of
    the filters' tag, plan item (with its sub-items) or (on SQLite) similar submissions, in that
    order of preference; None when the filters have none of them.

    Walking the queue's index and probing the link for each row, as the page does, visits about
    ``COUNT_CAP`` ÷ (the share of rows the link marks) rows: 20-40 ms at 100,000 for a tag or a
    plan item on a few percent of them. Read from the link's (key, submission) index, each row
    checked in ``ix_submission_queue_columns``, the count stops after ``COUNT_CAP + 1`` rows
    that match the other filters, however rare the link is."""

    def arm(link: Any, submission_id: Any, *where: Any) -> Select[*tuple[Any, ...]]:
        return (
            select(Submission.id, Submission.status)
            .select_from(link)
            .join(Submission, Submission.id == submission_id)
            .where(
                *where,
                visible_condition(user, Submission),
                *conditions(others, user, with_status=with_status),
            )
        )

    if filters.tag:
        others = replace(filters, tag=None)
        tagged = submission_tag.c
        # One row per (submission, tag): no duplicates to remove.
        return _per_status(arm(submission_tag, tagged.submission_id, tagged.tag_id == filters.tag))
    if filters.plan:
        others = replace(filters, plan="")
        items = _plan_item_ids(filters.plan)
        planned = submission_plan_item.c
        sample = arm(submission_plan_item, planned.submission_id, planned.plan_item_id.in_(items))
        # A submission may have an item and one of its sub-items.
        return _per_status(sample.distinct() if len(items) > 1 else sample)
    if filters.similar and db.session.get_bind().dialect.name == "sqlite":
        # PostgreSQL would remove the duplicates with a sort or a hash of every link before the
        # first row counts; its generic count reads the rows similar_hint marks, from
        # ix_submission_similar, and probes their links (see _has_similar).
        others = replace(filters, similar=False)
        link = SimilarityLink
        other = aliased(Submission)
        live = link.status != LinkStatus.DISMISSED

        def side(this: Any, that: Any) -> Select[*tuple[Any, ...]]:
            return (
                arm(link, this, live)
                .join(other, other.id == that)
                .where(visible_condition(user, other))
            )

        # Each side of the link a plain join (a join with a UNION of the sides would have
        # SQLite copy every link into a temporary table before the first row counts); a
        # submission with several links counted once.
        sides = union_all(
            side(link.submission_a_id, link.submission_b_id),
            side(link.submission_b_id, link.submission_a_id),
        ).subquery()
        return _per_status(select(sides.c.id, sides.c.status).distinct())
    return None


def status_counts(filters: QueueFilters, user: User) -> StatusCounts:
    """How many match the other filters, per status (the tabs), in one bounded query (or, for
    a plain staff search on SQLite, exactly, from the search index alone)."""
    hits = _search_hits(filters, user)
    if hits is not None:
        return StatusCounts({s: n for s, n in hits.counts.items() if n}, exact=True)

    def build() -> Select[tuple[Any, int]]:
        if _walks_index(filters, user):
            return capped_count(_walk(filters, user, None))
        linked = linked_count(filters, user, with_status=False)
        if linked is not None:
            return linked
        return capped_count(
            visible_submissions(user).where(*conditions(filters, user, with_status=False))
        )

    counts = _capped(_reused("tabs", filters, user, build))
    if sum(counts.values()) > COUNT_CAP:
        return StatusCounts({}, exact=False)
    return StatusCounts(counts, exact=True)


def _encode(moment: datetime | None, ident: int) -> str:
    raw = json.dumps([moment.isoformat() if moment else None, ident])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime | None, int] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return (datetime.fromisoformat(moment) if moment else None, int(ident))
    except (ValueError, TypeError):
        return None


@dataclass
class QueuePage:
    """One page of the queue, the status tabs' counts, and where the next page starts.

    ``total`` counts the rows of all pages, or is None when more than :data:`COUNT_CAP` match.
    """

    rows: list[Submission]
    counts: StatusCounts
    total: int | None
    next_cursor: str | None


def ordered(filters: QueueFilters, user: User) -> Select[Any]:
    """:func:`filtered`, newest (or oldest) sent first, ties broken by id: the queue's order."""
    sent = Submission.submitted_at
    # Every submission staff may see has been sent, so this keeps every row; said explicitly, it
    # lets PostgreSQL start its backward walk of (submitted_at, id) after the drafts' NULLs,
    # which it sorts first in descending order (SQLite sorts them last). Not in the counts:
    # there SQLite would take it for a reason to prefer a (…, submitted_at) index it must then
    # leave for the table on every row.
    return filtered(filters, user).where(sent.is_not(None)).order_by(*_order(filters))


def _order(filters: QueueFilters) -> tuple[ColumnElement[Any], ...]:
    """The queue's order: newest (or oldest) sent first, ties broken by id."""
    sent = Submission.submitted_at
    if filters.sort == "oldest":
        return sent.asc(), Submission.id.asc()
    return sent.desc(), Submission.id.desc()


def _after(cursor: str, filters: QueueFilters) -> ColumnElement[bool] | None:
    """Rows after ``cursor`` in the queue's order (None for no cursor, or a malformed one)."""
    position = _decode(cursor) if cursor else None
    if position is None or position[0] is None:
        return None
    # A row-value comparison, not "sent < t OR (sent = t AND id < i)": both databases seek an
    # index on (…, submitted_at, id) straight to the cursor with it.
    key = tuple_(Submission.submitted_at, Submission.id)
    return key > tuple_(*position) if filters.sort == "oldest" else key < tuple_(*position)


def counted(filters: QueueFilters, user: User) -> tuple[StatusCounts, int | None]:
    """The status tabs' counts, and how many rows all pages hold (None: more than the cap)."""
    counts = status_counts(filters, user)
    if not filters.status:
        return counts, counts.total if counts.exact else None
    if counts.exact:
        # The tabs count every status under the other filters: the total is one of them.
        return counts, counts.by_status.get(Status(filters.status), 0)

    def build() -> Select[tuple[Any, int]]:
        if _walks_index(filters, user):
            return capped_count(_walk(filters, user, Status(filters.status)))
        linked = linked_count(filters, user)
        return linked if linked is not None else capped_count(filtered(filters, user))

    matching = sum(_capped(_reused("total", filters, user, build)).values())
    return counts, matching if matching <= COUNT_CAP else None


def _plain_search(filters: QueueFilters, user: User) -> bool:
    """Staff searching received submissions, newest first, with no filter but the status."""
    return (
        bool(filters.q)
        and replace(filters, q="", status="", extra={}) == QueueFilters()
        and user.has_role(*STAFF_ROLES)
    )


def _search_hits(filters: QueueFilters, user: User) -> search.Hits | None:
    """A plain staff search's counts and page candidates from one read of the index, when it
    has few hits (search.received_hits); kept for the request, as the page and the status
    tabs both need it."""
    if not _plain_search(filters, user):
        return None
    statuses = [Status(filters.status)] if filters.status else list(search.QUEUE_STATUSES)
    if any(status not in RECEIVED for status in statuses):
        return None
    key = (filters.q, tuple(statuses))
    cache: dict[Any, search.Hits | None] = db.session.info.setdefault(_HITS, {})
    if key not in cache:
        cache[key] = search.received_hits(db.session, filters.q, statuses=statuses)
    return cache[key]


def _walks_index(filters: QueueFilters, user: User) -> bool:
    """Whether the search index drives the statements: staff searching on SQLite, newest first
    (any other filters; a plain search with few hits is read whole by :func:`_search_hits`)."""
    return (
        filters.sort == "newest"
        and (not filters.status or Status(filters.status) in RECEIVED)
        and user.has_role(*STAFF_ROLES)
        and search.searchable(filters.q)
        and db.session.get_bind().dialect.name == "sqlite"
    )


def _walk(
    filters: QueueFilters,
    user: User,
    status: Status | None,
    position: tuple[datetime | None, int] | None = None,
) -> Select[Any]:
    """The submissions the filters match, found by walking the search index's hits newest first
    (search.received_in_order): in ``status``'s range, from ``position``, or, with no status,
    every received status's range (for the counts, with the status filter left out)."""
    walk = search.received_in_order(filters.q, status, before=position)
    others = conditions(filters, user, with_status=status is not None, with_search=False)
    return walk.where(visible_condition(user, Submission), *others)


_HITS = "feedback.queue.search_hits"  # key in Session.info: the request's search hits


def _forget_hits(session: Session, *_args: object) -> None:
    # Counts read in one transaction hold for that transaction, until it writes.
    session.info.pop(_HITS, None)


for _name in ("after_flush", "after_commit", "after_soft_rollback"):
    if not event.contains(Session, _name, _forget_hits):
        event.listen(Session, _name, _forget_hits)


_ASSIGNEE = aliased(User, name="assignee")  # made once: an alias costs ~1 ms to set up

_BUILT = "feedback.queue.statements"  # in app.extensions: statements built for a page
# Statements kept per process (and app); all are dropped when there are more.
MAX_BUILT = 256
S = TypeVar("S", bound=Select[Any])


def _reused(kind: str, filters: QueueFilters, user: User, build: Callable[[], S], *more: Any) -> S:
    """``build()``, or the statement it built before for the same page and user.

    Building a page's statements and computing their cache keys cost about 0.5 ms of a queue
    request's ~6 (bench/RESULTS.md); a built statement never changes, and SQLAlchemy keeps its
    cache key on it, so a statement used again costs neither. The key holds everything the
    statements are made of: the filters, who asks (id, organisation, roles), the count cap, the
    menus' version (a plan filter's sub-items are read from the database when the statement
    is built: :func:`_plan_item_ids`) and ``more``. A search always builds anew: its
    statements depend on what the index holds.
    """
    if filters.q or not has_app_context():
        return build()
    key = (kind, tuple(filters.to_args().items()), user.id, user.organisation_id, user.roles,
           COUNT_CAP, menus.version(), *more)  # fmt: skip
    built: dict[Any, Any] = current_app.extensions.setdefault(_BUILT, {})
    statement: S | None = built.get(key)
    if statement is None:
        if len(built) >= MAX_BUILT:
            built.clear()
        statement = built[key] = build()
    return statement


def _table_statement(query: Select[Any]) -> Select[*tuple[Any, ...]]:
    """The page's rows as the queue's table shows them, as one statement of plain columns (no ORM
    objects): the text columns are most of a row's bytes and the table never shows them; of the
    organisation and the assignee it shows names (``Submission.organisation_name`` and
    ``assignee_name`` are the same for whole submissions, which a search's snippets need)."""
    assignee = _ASSIGNEE
    columns = query.with_only_columns(
        Submission.id, Submission.reference, Submission.title, Submission.kind,
        Submission.status, Submission.priority, Submission.submitted_at, Submission.created_at,
        func.coalesce(func.nullif(Organisation.short_name, ""), Organisation.name)
        .label("organisation_name"),
        assignee.name.label("assignee_name"),
    )  # fmt: skip
    columns = columns.join(Organisation, Organisation.id == Submission.organisation_id)
    columns = columns.outerjoin(assignee, assignee.id == Submission.assignee_id)
    return columns.limit(PAGE_SIZE + 1)


def page(filters: QueueFilters, user: User, cursor: str = "", *, table: bool = False) -> QueuePage:
    """A page of the queue, newest (or oldest) sent first; keyset pagination by (sent, id).

    ``table``: the rows are for the queue's table, which needs only the columns it shows
    (outside a search, whose snippets read the text); otherwise they are whole submissions.
    """
    hits = _search_hits(filters, user)
    counts, total = counted(filters, user)
    rows: list[Any]
    if table and not filters.q:

        def build() -> Select[*tuple[Any, ...]]:
            return _table_statement(_rows(filters, user, cursor, hits))

        rows = list(db.session.execute(_reused("table", filters, user, build, cursor)))
    else:  # whole submissions, assignees loaded with the page (the API serialises both)
        query = _rows(filters, user, cursor, hits).options(selectinload(Submission.assignee))
        rows = list(db.session.scalars(query.limit(PAGE_SIZE + 1)))
    if hits is not None and hits.ids is not None:
        visible = {Status(filters.status)} if filters.status else set(RECEIVED)
        rows = [row for row in rows if row.status in visible]
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    last = rows[-1] if rows else None
    next_cursor = _encode(last.submitted_at or last.created_at, last.id) if more and last else None
    return QueuePage(rows, counts, total, next_cursor)


def _rows(
    filters: QueueFilters, user: User, cursor: str, hits: search.Hits | None
) -> Select[Submission]:
    """The statement of the page's submissions, in the queue's order (not yet limited)."""
    position = _decode(cursor) if cursor else None
    sent = Submission.submitted_at
    keyset = _after(cursor, filters)
    if hits is not None and hits.ids is not None:
        # Only the candidates the index found, by primary key: with the status condition of
        # visible_submissions() in the statement, SQLite walks the status index instead of
        # looking the ids up (11-40 ms). The keys say the status; rows are checked below all
        # the same, in case the index was left behind by a Core write.
        query = (
            select(Submission)
            .where(Submission.id.in_(hits.ids or [0]))
            .order_by(sent.desc(), Submission.id.desc())
        )
    elif _walks_index(filters, user):
        # The newest PAGE_SIZE + 1 matches of each status (from the cursor on), each found by
        # walking that status's range of the index, then put in the queue's order.
        statuses = [Status(filters.status)] if filters.status else list(search.QUEUE_STATUSES)
        before = position if position is not None and position[0] is not None else None
        arms = [
            _walk(filters, user, status, before).limit(PAGE_SIZE + 1).subquery()
            for status in statuses
        ]
        found = union_all(*(select(arm.c.id) for arm in arms))
        query = (
            select(Submission)
            .where(Submission.id.in_(found))
            .order_by(sent.desc(), Submission.id.desc())
        )
    else:
        # The page's ids first, then their rows: with a tag (an IN list) SQLite reads every
        # tagged row to sort them; asked for ids only, it reads them from
        # ix_submission_queue_columns instead of the 3-9 KB rows.
        chosen = ordered(filters, user)
        if keyset is not None:
            chosen = chosen.where(keyset)
        ids = chosen.with_only_columns(Submission.id).limit(PAGE_SIZE + 1)
        query = select(Submission).where(Submission.id.in_(ids)).order_by(*_order(filters))
        keyset = None
    if keyset is not None:
        query = query.where(keyset)
    return query
