"""Chinese full-text search over submissions, on SQLite (FTS5) and PostgreSQL (tsvector).

Every CJK character is indexed as a token of its own; Latin words and numbers are indexed as
whole lowercase tokens. A query is searched as a phrase of the same tokens, so any Chinese
substring is found, one- and two-character words included, straight from the index
(PERFORMANCE.md §3: trigram indexes cannot answer queries shorter than three characters).

- SQLite: the contentless FTS5 table ``submission_fts`` holds the index only, not the text.
  Its rowid is a *search key*: a submission the federation has received gets a positive key
  in the range of its status (:data:`QUEUE_STATUSES`), in the order of ``(submitted_at, id)``
  within it (multiples of :data:`KEY_GAP` when the index is built, a key between two
  neighbours for one sent out of order), so that the index alone counts the hits per status
  and lists them newest first (:func:`received_hits`); any other submission gets ``-id``.
  Keys are small and dense on purpose: FTS5 stores rowid deltas, and keys made of a date and
  an id doubled the index. ``submission_fts_doc`` maps keys to submissions and keeps a digest
  of the tokens each was indexed with: a contentless table forgets a document only when given
  exactly those tokens (SQLite 3.40 has no ``contentless_delete``), and the digest proves them.
- PostgreSQL: ``submission_search`` holds ``to_tsvector('simple', <pre-split text>)`` under a GIN
  index and is queried with ``phraseto_tsquery``. A tsvector records positions only up to 16,383,
  so a text longer than :data:`WINDOW_TOKENS` tokens is stored as several overlapping parts.

A query is split on whitespace into terms; a submission matches when it contains every term
(each term a phrase). Characters that are neither letters nor digits are not indexed, so
punctuation in a query is ignored and a phrase may run across punctuation in the text.

The index is kept in step with ORM writes by the session hooks of :func:`install`. Core
inserts and bulk updates bypass the ORM: call :func:`reindex` after them (on SQLite, a changed or
deleted row whose old text is gone makes it rebuild the whole index, logged as a warning).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from markupsafe import Markup, escape
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    column,
    event,
    func,
    inspect,
    literal,
    literal_column,
    select,
    table,
    text,
    true,
    tuple_,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, UOWTransaction, scoped_session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import InternalTraversal

from feedback.models.submission import RECEIVED, Attachment, Status, Submission

log = logging.getLogger(__name__)

# Tables that live outside ``Base.metadata`` (created by migrations 1a2b3c4d5e01 and
# 6f7a8b9c0d07), including the shadow tables FTS5 creates for ``submission_fts``.
SQLITE_TABLE = "submission_fts"
SQLITE_DOC_TABLE = "submission_fts_doc"
POSTGRES_TABLE = "submission_search"
FTS5_SHADOW_SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config")
SEARCH_TABLES = frozenset(
    {
        POSTGRES_TABLE,
        SQLITE_TABLE,
        SQLITE_DOC_TABLE,
        *(SQLITE_TABLE + s for s in FTS5_SHADOW_SUFFIXES),
    }
)

# The statuses of received submissions, each with a range of SQLite keys of its own.
QUEUE_STATUSES = (
    Status.SUBMITTED,
    Status.IN_REVIEW,
    Status.RETURNED,
    Status.ACCEPTED,
    Status.REJECTED,
    Status.REPORTED,
)
assert frozenset(QUEUE_STATUSES) == RECEIVED, "a received status without a key range"
# Keys of the n-th status (from 1) lie in [n * KEY_RANGE, (n + 1) * KEY_RANGE).
KEY_RANGE = 1 << 40
# Distance between the keys of consecutive received submissions when the index is built: room
# for submissions sent out of order (clock skew, imports) to get a key between two others.
KEY_GAP = 16
# A batch that must place more submissions than this between existing keys rebuilds instead.
MAX_PLACED = 200
# A search with at most this many received hits lists them all in one pass over the index
# (cheaper than a count per status range, which costs a pass per range when nothing matches).
FEW_HITS = 200

# Rows are read and written this many submissions at a time.
CHUNK = 2_000
# Tokens per PostgreSQL part, below the tsvector position limit of 16,383 with room to spare in
# case the parser splits a token of ours in two.
WINDOW_TOKENS = 15_000
# A phrase is searched with at most this many tokens, and consecutive parts overlap by as
# many, so that every phrase that is searched lies wholly inside one part.
MAX_PHRASE_TOKENS = 64
# At most this many whitespace-separated terms of a query are searched.
MAX_TERMS = 8
# Longer Latin "words" (hashes, base64 pasted into a text) are cut into tokens of this length:
# PostgreSQL drops words longer than 2,047 bytes, and both databases must see the same tokens.
MAX_WORD_CHARS = 100

# Characters indexed one by one: CJK ideographs (with extensions and compatibility forms), kana,
# bopomofo and Hangul. Punctuation inside these blocks (・, ゠, ゛) is left out on purpose.
_CJK = (
    "\u1100-\u11ff\u3005-\u3007\u3021-\u3029\u3038-\u303c\u3041-\u309a\u309d-\u309f"
    "\u30a1-\u30fa\u30fc-\u30ff\u3105-\u312f\u3131-\u318e\u31a0-\u31bf\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff\uf900-\ufaff"
    "\U00020000-\U0003ffff"
)
# A token: one CJK character, or a run of other letters and digits (at most MAX_WORD_CHARS; a
# longer run goes on as a new token). One pass of the regex engine, with no per-character Python.
_TOKEN = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]{{1,{MAX_WORD_CHARS}}}")


def _tokens(text: str) -> list[str]:
    """The index tokens of ``text``: CJK characters one by one, other words whole, lowercase."""
    # NFKC folds full-width Latin and digits (ＨＡＺＯＰ, ２０２６) into ASCII, as people type both.
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def split_for_index(text: str) -> str:
    """``text`` as space-separated index tokens.

    "园区安全 HAZOP 2026年" → "园 区 安 全 hazop 2026 年".
    """
    return " ".join(_tokens(text))


def _document(title: str, summary: str, sections_json: str, names: Iterable[str]) -> str:
    """The searchable text of a submission from its stored column values."""
    try:
        sections = json.loads(sections_json or "{}")
    except ValueError:
        sections = sections_json  # not JSON: search the raw text rather than fail
    section_texts = (
        [str(value) for value in sections.values()]
        if isinstance(sections, dict)
        else [str(sections)]
    )
    return "\n".join(part for part in (title, summary, *section_texts, *names) if part)


def document_text(submission: Submission) -> str:
    """The text a submission is found by: title, summary, section texts and attachment names."""
    return _document(
        submission.title or "",
        submission.summary or "",
        submission.sections_json or "{}",
        (attachment.original_name for attachment in submission.attachments),
    )


def _phrases(query: str) -> list[str]:
    """The query's terms as pre-split phrases ("园区 安全" → ["园 区", "安 全"]), deduplicated."""
    phrases: list[str] = []
    for term in query.split()[:MAX_TERMS]:
        tokens = _tokens(term)[:MAX_PHRASE_TOKENS]
        phrase = " ".join(tokens)
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return phrases


def sent_micros(moment: datetime | None) -> int:
    """``submitted_at`` as whole microseconds since 1970 (0 for none: sorts as the oldest)."""
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _status_range(status: str | None) -> int:
    """The number (from 1) of the key range of ``status``; 0 when not received."""
    if status is None or Status(status) not in QUEUE_STATUSES:
        return 0
    return QUEUE_STATUSES.index(Status(status)) + 1


def _bounds(number: int) -> tuple[int, int]:
    return number * KEY_RANGE, (number + 1) * KEY_RANGE


def _digest(tokens: str) -> int:
    """A 64-bit fingerprint of the tokens a document was indexed with (signed, for SQLite)."""
    raw = hashlib.blake2b(tokens.encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


def _match_expression(phrases: Sequence[str]) -> str:
    """An FTS5 MATCH expression: every phrase, quoted (phrases hold no quote or operator)."""
    return " ".join(f'"{phrase}"' for phrase in phrases)


# -- matching ----------------------------------------------------------------------------------


class _IndexMatch(ColumnElement[bool]):
    """``submission.id IN (ids whose index rows contain every phrase)``, rendered per dialect.

    The dialect is only known when the statement is compiled, so the condition is a construct of
    its own; the phrases are bound parameters that take part in the statement cache key.
    """

    __visit_name__ = "feedback_search_match"
    inherit_cache = True
    type = Boolean()
    # An IN is a truth value of its own: without this, SQLite would get "(… IN …) = 1", which
    # hides the IN from the planner.
    _is_implicitly_boolean = True
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's traversal protocol)
        ("id_column", InternalTraversal.dp_clauseelement),
        ("phrases", InternalTraversal.dp_clauseelement_tuple),
    ]

    def __init__(self, id_column: ColumnElement[int], phrases: Sequence[str]) -> None:
        self.id_column = id_column
        self.phrases: tuple[BindParameter[str], ...] = tuple(
            bindparam(None, phrase, type_=String(), unique=True) for phrase in phrases
        )


@compiles(_IndexMatch, "sqlite")
def _compile_sqlite(element: _IndexMatch, compiler: SQLCompiler, **kw: Any) -> str:
    # Each phrase is wrapped in double quotes in SQL, not in Python, so that the bound values
    # are the same on both databases; phrases hold only letters, digits and spaces, so no quote
    # or FTS5 operator can reach the MATCH expression. Adjacent phrases mean AND in FTS5.
    parts = " || '\" \"' || ".join(compiler.process(p, **kw) for p in element.phrases)
    column = compiler.process(element.id_column, **kw)
    # The rowid is a search key; submission_fts_doc maps it to the submission. Written as
    # nested INs rather than a join: SQLite then builds the key list once and probes the map
    # from it (124 against 213 ms for 园区 in 100k with a status filter).
    # Only compiled fragments (a column, bound parameters) are interpolated.
    return (
        # Bandit B608 is a false positive: only compiled fragments (column, bound parameters).
        f"({column} IN (SELECT submission_fts_doc.submission_id FROM submission_fts_doc "  # noqa: S608  # nosec B608
        "WHERE submission_fts_doc.key IN (SELECT submission_fts.rowid FROM submission_fts "
        f"WHERE submission_fts MATCH ('\"' || {parts} || '\"'))))"
    )


@compiles(_IndexMatch, "postgresql")
def _compile_postgresql(element: _IndexMatch, compiler: SQLCompiler, **kw: Any) -> str:
    query = " && ".join(
        f"phraseto_tsquery('simple', {compiler.process(p, **kw)})" for p in element.phrases
    )
    column = compiler.process(element.id_column, **kw)
    # Only compiled fragments (a column, bound parameters) are interpolated.
    return (
        # Bandit B608 is a false positive: only compiled fragments (column, bound parameters).
        f"({column} IN (SELECT submission_search.submission_id FROM submission_search "  # noqa: S608  # nosec B608
        f"WHERE submission_search.document @@ ({query})))"
    )


@compiles(_IndexMatch)
def _compile_other(element: _IndexMatch, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"no search index on {compiler.dialect.name}; use SQLite or PostgreSQL")


def matching(query: str) -> ColumnElement[bool]:
    """A condition on ``Submission.id``: the submission contains every term of ``query``.

    Usable in any select (with other filters, counts, ordering). A query with nothing to search
    (blank, or only punctuation) matches every submission.
    """
    phrases = _phrases(query)
    if not phrases:
        return true()
    return _IndexMatch(Submission.__table__.c.id, phrases)


# -- writing the index -------------------------------------------------------------------------


def _windows(tokens: list[str]) -> list[str]:
    """The PostgreSQL parts of a token list: overlapping windows within the position limit."""
    if len(tokens) <= WINDOW_TOKENS:
        return [" ".join(tokens)]
    step = WINDOW_TOKENS - MAX_PHRASE_TOKENS
    parts = []
    for start in range(0, len(tokens), step):
        parts.append(" ".join(tokens[start : start + WINDOW_TOKENS]))
        if start + WINDOW_TOKENS >= len(tokens):
            break
    return parts


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


class _Row(NamedTuple):
    """What the SQLite index needs to know of a submission."""

    document: str
    range: int  # _status_range(status): 0 when not received
    sent: int  # sent_micros(submitted_at)


def _read_rows(connection: Connection, ids: Sequence[int]) -> dict[int, _Row]:
    """The searchable text and place in the queue of each of ``ids`` that exists."""
    rows = connection.execute(
        select(
            Submission.id,
            Submission.title,
            Submission.summary,
            Submission.sections_json,
            Submission.status,
            Submission.submitted_at,
        )
        .where(Submission.id.in_(ids))
        .order_by(Submission.id)
    ).all()
    names: dict[int, list[str]] = {}
    for submission_id, name in connection.execute(
        select(Attachment.submission_id, Attachment.original_name)
        .where(Attachment.submission_id.in_(ids))
        .order_by(Attachment.submission_id, Attachment.id)
    ):
        names.setdefault(submission_id, []).append(name)
    return {
        sid: _Row(
            _document(title or "", summary or "", sections or "{}", names.get(sid, ())),
            _status_range(status),
            sent_micros(submitted_at),
        )
        for sid, title, summary, sections, status, submitted_at in rows
    }


def _read_documents(connection: Connection, ids: Sequence[int]) -> dict[int, str]:
    """The searchable text of each of ``ids`` that exists, from the database."""
    return {sid: row.document for sid, row in _read_rows(connection, ids).items()}


class _Drift(Exception):
    """The SQLite index cannot be updated row by row: it must be rebuilt.

    Either a document's indexed tokens can no longer be given back (its row changed without
    the ORM hooks), or submissions must be placed between keys where no gap is left.
    """

    def __init__(self, submission_id: int, reason: str) -> None:
        super().__init__(submission_id, reason)
        self.submission_id = submission_id
        self.reason = reason

    def log(self) -> None:
        # Lost tokens mean a write went around the hooks (worth a warning); no room between
        # keys is the normal course of a bulk load of old submissions.
        level = logging.WARNING if self.reason == _UNKNOWN_TOKENS else logging.INFO
        log.log(level, "search index: submission %s %s; rebuilding the index", *self.args)


_UNKNOWN_TOKENS = "changed without the ORM hooks or reindex(), so its old tokens are unknown"
_NO_ROOM = "sent out of order with no room left between keys"


def _sqlite_write(
    connection: Connection,
    ids: Sequence[int],
    old_tokens: Mapping[int, str | None],
    keys: Mapping[int, int] | None = None,
) -> int:
    """Make the SQLite index rows of ``ids`` match the database.

    A contentless FTS5 table forgets a document only when given its rowid and the very tokens
    it was indexed with. Those are the current tokens when only the key changes, else
    ``old_tokens`` (read before the flush changed the row); the digest in
    ``submission_fts_doc`` proves them, and :class:`_Drift` is raised when nothing does.
    ``keys`` gives the keys of received submissions when the whole index is built.
    """
    current = {}
    for sid, row in _read_rows(connection, ids).items():
        tokens = split_for_index(row.document)
        current[sid] = (row, tokens, _digest(tokens))
    stored = {
        int(sid): (int(key), int(digest), sent)
        for sid, key, digest, sent in connection.execute(
            text(
                "SELECT submission_id, key, digest, sent FROM submission_fts_doc "
                "WHERE submission_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": list(ids)},
        )
    }
    forget: list[dict[str, Any]] = []
    add: list[dict[str, Any]] = []
    place: list[dict[str, Any]] = []  # received, to get a key in the order of sending
    for sid in ids:
        now, was = current.get(sid), stored.get(sid)
        key: int | None = None
        if now is not None:
            row, tokens, digest = now
            low, high = _bounds(row.range)
            if not row.range:
                key = -sid
            elif keys is not None:
                key = keys[sid]
            elif was is not None and low <= was[0] < high and was[2] == row.sent:
                key = was[0]  # same status, sent at the same time: same place
        if was is not None:
            if now is not None and key == was[0] and now[2] == was[1]:
                continue  # indexed as it is
            if now is not None and now[2] == was[1]:
                old: str | None = now[1]  # same text under a new key
            else:
                old = old_tokens.get(sid)
                if old is None or _digest(old) != was[1]:
                    raise _Drift(sid, _UNKNOWN_TOKENS)
            forget.append({"id": sid, "key": was[0], "document": old})
        if now is not None:
            row, tokens, digest = now
            entry = {"id": sid, "key": key, "document": tokens, "digest": digest}
            entry["sent"] = row.sent if row.range else None
            entry["range"] = row.range
            (add if key is not None else place).append(entry)
    if forget:
        connection.execute(
            text(
                "INSERT INTO submission_fts (submission_fts, rowid, document) "
                "VALUES ('delete', :key, :document)"
            ),
            forget,
        )
        connection.execute(text("DELETE FROM submission_fts_doc WHERE submission_id = :id"), forget)
    _add(connection, add)
    for number in sorted({entry["range"] for entry in place}):
        _place(connection, number, [entry for entry in place if entry["range"] == number])
    return len(current)


def _add(connection: Connection, entries: list[dict[str, Any]]) -> None:
    if entries:
        connection.execute(
            text("INSERT INTO submission_fts (rowid, document) VALUES (:key, :document)"),
            entries,
        )
        connection.execute(
            text(
                "INSERT INTO submission_fts_doc (submission_id, key, digest, sent) "
                "VALUES (:id, :key, :digest, :sent)"
            ),
            [{name: entry[name] for name in ("id", "key", "digest", "sent")} for entry in entries],
        )


def _place(connection: Connection, number: int, entries: list[dict[str, Any]]) -> None:
    """Give submissions newly in key range ``number`` keys in the order of ``(sent, id)``.

    The usual case, sent after everything in the range, takes the next multiple of KEY_GAP;
    one sent out of order takes the middle of the gap between its neighbours, and when there
    is no gap left (or too many to place one by one) :class:`_Drift` asks for a rebuild.
    """
    low, high = _bounds(number)
    bounds = {"low": low, "high": high}
    entries.sort(key=lambda entry: (entry["sent"], entry["id"]))
    last = connection.execute(
        text(
            "SELECT key, sent, submission_id FROM submission_fts_doc "
            "WHERE key >= :low AND key < :high ORDER BY key DESC LIMIT 1"
        ),
        bounds,
    ).first()
    top = (int(last[0]), int(last[1]), int(last[2])) if last else (low, -1, 0)
    later = [entry for entry in entries if (entry["sent"], entry["id"]) > top[1:]]
    between = entries[: len(entries) - len(later)]
    if len(between) > MAX_PLACED or top[0] + (len(later) + 1) * KEY_GAP >= high:
        raise _Drift(entries[0]["id"], _NO_ROOM)
    for count, entry in enumerate(later, start=1):
        entry["key"] = top[0] + count * KEY_GAP
    _add(connection, later)
    neighbour = (
        "SELECT key FROM submission_fts_doc WHERE key > 0 AND {where} "
        "AND key >= :low AND key < :high ORDER BY sent {order}, submission_id {order} LIMIT 1"
    )
    for entry in between:
        params = {"sent": entry["sent"], "id": entry["id"], **bounds}
        before = connection.scalar(
            text(
                neighbour.format(
                    where="(sent < :sent OR (sent = :sent AND submission_id < :id))",
                    order="DESC",
                )
            ),
            params,
        )
        after = connection.scalar(
            text(
                neighbour.format(
                    where="(sent > :sent OR (sent = :sent AND submission_id > :id))",
                    order="ASC",
                )
            ),
            params,
        )
        below, above = int(before or low), int(after)
        if above - below < 2:
            raise _Drift(entry["id"], _NO_ROOM)
        entry["key"] = (below + above) // 2
        _add(connection, [entry])


def _write(
    connection: Connection,
    ids: Sequence[int],
    *,
    replace: bool = True,
    old_tokens: Mapping[int, str | None] | None = None,
    keys: Mapping[int, int] | None = None,
) -> int:
    """Make the index rows of ``ids`` match the database (none for ids that no longer exist)."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return _sqlite_write(connection, ids, old_tokens or {}, keys)
    if dialect != "postgresql":
        raise NotImplementedError(f"no search index on {dialect}; use SQLite or PostgreSQL")
    documents = _read_documents(connection, ids)
    if replace:
        connection.execute(
            text("DELETE FROM submission_search WHERE submission_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": list(ids)},
        )
    rows = [
        {"id": sid, "part": part, "document": window}
        for sid, doc in documents.items()
        for part, window in enumerate(_windows(_tokens(doc)))
    ]
    if rows:
        connection.execute(
            text(
                "INSERT INTO submission_search (submission_id, part, document) "
                "VALUES (:id, :part, to_tsvector('simple', :document))"
            ),
            rows,
        )
    return len(documents)


def _clear(connection: Connection) -> None:
    """Remove every index row."""
    if connection.dialect.name == "sqlite":
        # A contentless table is emptied with 'delete-all', not with DELETE.
        connection.execute(
            text("INSERT INTO submission_fts (submission_fts) VALUES ('delete-all')")
        )
        connection.execute(text("DELETE FROM submission_fts_doc"))
    else:
        connection.execute(text("DELETE FROM submission_search"))


def _write_or_rebuild(
    connection: Connection, ids: Sequence[int], old_tokens: Mapping[int, str | None]
) -> None:
    """:func:`_write` in chunks; on SQLite, a rebuild of everything if the index drifted."""
    try:
        for chunk in _chunks(ids):
            _write(connection, chunk, old_tokens=old_tokens)
    except _Drift as drift:
        # A write that bypassed the ORM (a Core UPDATE or DELETE of submission text without
        # reindex()), or keys out of room: start from scratch.
        drift.log()
        reindex_connection(connection)


def reindex(
    session: Session | scoped_session[Any], submission_ids: Iterable[int] | None = None
) -> int:
    """Rebuild the index rows of ``submission_ids`` (all submissions when None), in chunks.

    Flushes first and runs in the session's transaction (the caller commits); returns how many
    submissions were indexed. Ids of submissions that no longer exist lose their rows. On
    SQLite, rows whose text changed since they were indexed without the ORM hooks knowing
    (Core writes) cannot be forgotten one by one: then the whole index is rebuilt.
    """
    session.flush()
    return reindex_connection(
        session.connection(bind_arguments={"mapper": Submission}), submission_ids
    )


def reindex_connection(connection: Connection, submission_ids: Iterable[int] | None = None) -> int:
    """:func:`reindex` on a bare connection (migrations have no session)."""
    if submission_ids is not None:
        ids = sorted(set(submission_ids))
        try:
            return sum(_write(connection, chunk) for chunk in _chunks(ids))
        except _Drift as drift:
            drift.log()
            reindex_connection(connection)
            return len(_read_rows(connection, ids))
    _clear(connection)
    keys: dict[int, int] | None = None
    if connection.dialect.name == "sqlite":
        # Received submissions in the queue's order, KEY_GAP apart in their status's range.
        keys = {}
        taken = dict.fromkeys(range(1, len(QUEUE_STATUSES) + 1), 0)
        for sid, status in connection.execute(
            select(Submission.id, Submission.status)
            .where(Submission.status.in_(QUEUE_STATUSES))
            .order_by(Submission.submitted_at, Submission.id)
        ):
            number = _status_range(status)
            taken[number] += 1
            keys[sid] = number * KEY_RANGE + taken[number] * KEY_GAP
    count, last = 0, 0
    while True:
        chunk = connection.scalars(
            select(Submission.id).where(Submission.id > last).order_by(Submission.id).limit(CHUNK)
        ).all()
        if not chunk:
            break
        count += _write(connection, chunk, replace=False, keys=keys)
        last = chunk[-1]
    if connection.dialect.name == "sqlite":
        # Merge the b-tree segments written chunk by chunk: a smaller index and faster queries.
        connection.execute(text("INSERT INTO submission_fts (submission_fts) VALUES ('optimize')"))
    else:
        # Fresh statistics so that the planner knows how selective the index is right away.
        connection.execute(text("ANALYZE submission_search"))
    return count


# -- the review queue's own path (SQLite) -------------------------------------------------------


class Hits(NamedTuple):
    """What :func:`received_hits` found."""

    counts: dict[Status, int]  # hits per status, every received status
    ids: list[int] | None  # every hit in the statuses asked for; None when there are many


def received_hits(
    session: Session | scoped_session[Any],
    query: str,
    *,
    statuses: Iterable[Status] = QUEUE_STATUSES,
) -> Hits | None:
    """Every hit among received submissions, counted per status, and, when there are at most
    :data:`FEW_HITS`, the ids of those in ``statuses``.

    For the staff queue with no filter but the search and the status, on SQLite: the counts
    (the status tabs and the total, exact) come from the index alone, without reading
    ``submission`` once per hit. With few hits the page does too (one read of the index: the
    caller orders the ids, applies the keyset position and cuts the page); with more, ``ids``
    is None and :func:`received_in_order` walks the index, newest first, for the page. None
    when this path does not apply (PostgreSQL, nothing to search).
    """
    connection = session.connection(bind_arguments={"mapper": Submission})
    phrases = _phrases(query)
    if connection.dialect.name != "sqlite" or not phrases:
        return None
    match = _match_expression(phrases)
    hits = (
        "FROM submission_fts WHERE submission_fts MATCH :match AND rowid >= :low AND rowid < :high"
    )
    everything = {"match": match, "low": KEY_RANGE, "high": (len(QUEUE_STATUSES) + 1) * KEY_RANGE}
    keys = list(
        connection.scalars(
            # nosemgrep: sql-text-built-from-strings -- `hits` is a literal; values are bound
            text(f"SELECT rowid {hits} LIMIT :limit"),
            {**everything, "limit": FEW_HITS + 1},
        )
    )
    if len(keys) > FEW_HITS:
        # Counted per status range from the index alone (the exact total a search shows); the
        # page is found by walking the index newest first (received_in_order).
        counts = {
            status: int(
                connection.scalar(
                    # nosemgrep: sql-text-built-from-strings -- `hits` is a literal; values bound
                    text(f"SELECT count(*) {hits}"),
                    {"match": match, "low": low, "high": high},
                )
                or 0
            )
            for status, (low, high) in (
                (status, _bounds(number)) for number, status in enumerate(QUEUE_STATUSES, 1)
            )
        }
        return Hits(counts, None)
    counts = dict.fromkeys(QUEUE_STATUSES, 0)
    wanted = {QUEUE_STATUSES.index(status) + 1 for status in statuses}
    for key in keys:
        counts[QUEUE_STATUSES[key // KEY_RANGE - 1]] += 1
    keys = [key for key in keys if key // KEY_RANGE in wanted]
    return Hits(counts, _ids_of(connection, keys))


# The index and its key map as tables of a select (they live outside Base.metadata).
_FTS = table(SQLITE_TABLE, column("rowid", Integer), column(SQLITE_TABLE, String))
_DOC = table(
    SQLITE_DOC_TABLE,
    column("submission_id", Integer),
    column("key", Integer),
    column("sent", Integer),
)


def searchable(query: str) -> bool:
    """Whether ``query`` has anything to search (not blank, not only punctuation)."""
    return bool(_phrases(query))


def received_in_order(
    query: str, status: Status | None = None, *, before: tuple[datetime | None, int] | None = None
) -> Select[Any]:
    """``select(submission.id)`` of the received submissions ``query`` hits, walked in key order,
    newest first, from the index (SQLite): the caller adds conditions on ``Submission`` and a
    LIMIT, and the walk stops as soon as that many rows pass them.

    Within one ``status`` that is the queue's order, and ``before`` (a keyset position) starts
    the walk at the first key after it; with no status, every received status's range, one after
    the other (for counts). Reading ``submission`` only for hits the walk reaches is what makes a
    common word with another filter cheap: the generic condition (:func:`matching`) maps every
    hit to its row, then sorts them, in each statement.
    """
    phrases = _phrases(query)
    assert phrases, "nothing to search: check searchable() first"
    if status is None:
        low, high = KEY_RANGE, (len(QUEUE_STATUSES) + 1) * KEY_RANGE
    else:
        low, high = _bounds(_status_range(status))
    upper: ColumnElement[Any] = literal(high)
    if before is not None and status is not None:
        # The first key at or after the position in this range (keys follow (sent, id) within
        # it). "+key" keeps SQLite off the key index, "key > 0" lets it use the partial index on
        # (sent, submission_id): a seek to the position instead of a sort of the whole range.
        bound = _DOC.alias("bound")
        key: ColumnElement[int] = literal_column("+bound.key", Integer)
        first_after = (
            select(bound.c.key)
            .where(
                text("bound.key > 0"),
                key >= low,
                key < high,
                tuple_(bound.c.sent, bound.c.submission_id)
                >= tuple_(literal(sent_micros(before[0])), literal(before[1])),
            )
            .order_by(bound.c.sent, bound.c.submission_id)
            .limit(1)
            .scalar_subquery()
        )
        upper = func.coalesce(first_after, high)
    rows = Submission.__table__
    walk = _FTS.join(_DOC, _DOC.c.key == _FTS.c.rowid).join(rows, rows.c.id == _DOC.c.submission_id)
    return (
        select(rows.c.id)
        .select_from(walk)
        .where(
            _FTS.c[SQLITE_TABLE].op("MATCH")(_match_expression(phrases)),
            _FTS.c.rowid >= low,
            _FTS.c.rowid < upper,
        )
        .order_by(_FTS.c.rowid.desc())
    )


def _ids_of(connection: Connection, keys: list[int]) -> list[int]:
    """The submissions indexed under ``keys``."""
    if not keys:
        return []
    ids = connection.scalars(
        text("SELECT submission_id FROM submission_fts_doc WHERE key IN :keys").bindparams(
            bindparam("keys", expanding=True)
        ),
        {"keys": keys},
    )
    return [int(sid) for sid in ids]


# -- keeping the index in step with ORM writes --------------------------------------------------

_TEXT_ATTRIBUTES = ("title", "summary", "sections_json")
_PENDING = "feedback.search.pending"  # key in Session.info: submission ids to reindex
# Key in Session.info: submission id -> its tokens before this flush changed it (SQLite only).
_OLD_TOKENS = "feedback.search.old_tokens"


def _pending(target: object) -> set[int] | None:
    """The set of submission ids to reindex at the end of the flush that writes ``target``."""
    session = inspect(target).session
    if session is None:
        return None
    pending: set[int] = session.info.setdefault(_PENDING, set())
    return pending


def _remember_old_tokens(connection: Connection, target: object, ids: Iterable[int]) -> None:
    """Before a row is written, keep the tokens its submission is indexed with (SQLite).

    A contentless FTS5 table needs them to forget the document; mapper events run before the
    statement that changes the row, and the first reading in a flush is the one kept.
    """
    session = inspect(target).session
    if session is None or connection.dialect.name != "sqlite":
        return
    old: dict[int, str | None] = session.info.setdefault(_OLD_TOKENS, {})
    missing = sorted({sid for sid in ids if sid not in old})
    if missing:
        rows = _read_rows(connection, missing)
        for sid in missing:
            old[sid] = split_for_index(rows[sid].document) if sid in rows else None


def _text_changed(target: Submission) -> bool:
    state = inspect(target)
    return any(state.attrs[name].history.has_changes() for name in _TEXT_ATTRIBUTES)


def _key_changed(target: Submission) -> bool:
    """Whether the SQLite search key may change: the status's range, or the date of sending."""
    state = inspect(target)
    if state.attrs.submitted_at.history.has_changes():
        return True
    status = state.attrs.status.history
    if not status.has_changes():
        return False
    if not status.deleted:
        return True  # the old status was not loaded: assume the worst
    number = _status_range(target.status)
    return any(_status_range(old) != number for old in status.deleted if old)


def _identity(target: object) -> int | None:
    identity = inspect(target).identity
    return int(identity[0]) if identity else None


def _submission_written(_mapper: object, _connection: object, target: Submission) -> None:
    pending = _pending(target)
    if pending is not None:
        pending.add(target.id)


def _submission_updating(_mapper: object, connection: Connection, target: Submission) -> None:
    if _text_changed(target):
        _remember_old_tokens(connection, target, [target.id])


def _submission_updated(_mapper: object, connection: Connection, target: Submission) -> None:
    # Most updates are status changes and version bumps: only a changed text is reindexed, and
    # on SQLite a change of key (a submission sent, or withdrawn).
    if _text_changed(target) or (connection.dialect.name == "sqlite" and _key_changed(target)):
        _submission_written(_mapper, connection, target)


def _submission_deleting(_mapper: object, connection: Connection, target: Submission) -> None:
    sid = _identity(target)
    if sid is not None:
        _remember_old_tokens(connection, target, [sid])


def _submission_deleted(_mapper: object, _connection: object, target: Submission) -> None:
    sid = _identity(target)
    pending = _pending(target)
    if pending is not None and sid is not None:
        pending.add(sid)


def _attachment_parents(target: Attachment) -> set[int]:
    """Old and new submission, from the foreign key and from the relationship, without loading
    anything: a removed (orphaned) attachment only shows its old parent in the relationship."""
    state = inspect(target)
    key = state.attrs.submission_id.history
    ids = {int(sid) for sid in (*key.added, *key.unchanged, *key.deleted) if sid}
    parent = state.attrs.submission.history
    for submission in (*parent.added, *parent.unchanged, *parent.deleted):
        sid = _identity(submission) if submission is not None else None
        if sid is not None:
            ids.add(sid)
    return ids


def _attachment_changes_text(target: Attachment) -> bool:
    # Only a new name, or a move to another submission, changes what is found.
    state = inspect(target)
    return bool(
        state.attrs.original_name.history.has_changes()
        or state.attrs.submission_id.history.has_changes()
        or state.attrs.submission.history.has_changes()
    )


def _attachment_writing(_mapper: object, connection: Connection, target: Attachment) -> None:
    _remember_old_tokens(connection, target, _attachment_parents(target))


def _attachment_written(_mapper: object, _connection: object, target: Attachment) -> None:
    pending = _pending(target)
    if pending is not None:
        pending.update(_attachment_parents(target))


def _attachment_updating(_mapper: object, connection: Connection, target: Attachment) -> None:
    if _attachment_changes_text(target):
        _attachment_writing(_mapper, connection, target)


def _attachment_updated(_mapper: object, connection: Connection, target: Attachment) -> None:
    if _attachment_changes_text(target):
        _attachment_written(_mapper, connection, target)


def _before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    # An attachment renamed or deleted after its attributes expired (after a commit) must still
    # tell which submission to reindex: load its foreign key now, while its row is unchanged.
    for instance in (*session.dirty, *session.deleted):
        if isinstance(instance, Attachment) and "submission_id" not in instance.__dict__:
            _ = instance.submission_id


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    # Written on the flush's own connection: the index rows commit or roll back with the data.
    ids = session.info.pop(_PENDING, None)
    old_tokens = session.info.pop(_OLD_TOKENS, None) or {}
    if ids:
        connection = session.connection(bind_arguments={"mapper": Submission})
        _write_or_rebuild(connection, sorted(ids), old_tokens)


def _after_rollback(session: Session, _previous: object) -> None:
    # A failed flush may have left ids behind; what was rolled back needs no reindexing.
    session.info.pop(_PENDING, None)
    session.info.pop(_OLD_TOKENS, None)


_HOOKS: tuple[tuple[Any, str, Any], ...] = (
    (Submission, "after_insert", _submission_written),
    (Submission, "before_update", _submission_updating),
    (Submission, "after_update", _submission_updated),
    (Submission, "before_delete", _submission_deleting),
    (Submission, "after_delete", _submission_deleted),
    (Attachment, "before_insert", _attachment_writing),
    (Attachment, "after_insert", _attachment_written),
    (Attachment, "before_update", _attachment_updating),
    (Attachment, "after_update", _attachment_updated),
    (Attachment, "before_delete", _attachment_writing),
    (Attachment, "after_delete", _attachment_written),
    (Session, "before_flush", _before_flush),
    (Session, "after_flush", _after_flush),
    (Session, "after_soft_rollback", _after_rollback),
)


def install(app_or_none: object = None) -> None:
    """Keep the index in step with every ORM flush, in every session of this process.

    Mapper events note which submissions a flush inserts, changes the text of, or deletes
    (directly, or through an attachment added, renamed, moved or removed); at the end of the
    flush their index rows are rewritten from the database in the same transaction.

    Idempotent. ``app_or_none`` is accepted so that the call reads like an extension's
    ``init_app``; the hooks do not depend on it, as each flush finds its dialect from its own
    connection.
    """
    for target, name, function in _HOOKS:
        if not event.contains(target, name, function):
            event.listen(target, name, function)


def uninstall() -> None:
    """Remove the hooks of :func:`install` (for tests that must run without them)."""
    for target, name, function in _HOOKS:
        if event.contains(target, name, function):
            event.remove(target, name, function)


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic ``include_name`` filter: leave the search tables (not in the models) alone."""
    return not (type_ == "table" and name in SEARCH_TABLES)


# -- showing hits ------------------------------------------------------------------------------


def _hit_pattern(query: str) -> re.Pattern[str] | None:
    terms = sorted({t for t in query.split()[:MAX_TERMS]}, key=len, reverse=True)
    if not terms:
        return None
    # Longest first, so that of overlapping terms the longer one is marked.
    return re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)


def _marked(text: str, pattern: re.Pattern[str] | None) -> Markup:
    """``text`` escaped piece by piece, with every match of ``pattern`` in <mark>."""
    if pattern is None:
        return escape(text)
    # The raw text is only ever cut into pieces; every piece goes through escape() before it
    # meets markup, so nothing in the text (or the query) can open a tag or an entity.
    pieces: list[str] = []
    position = 0
    for hit in pattern.finditer(text):
        pieces.append(escape(text[position : hit.start()]))
        pieces.append(Markup("<mark>%s</mark>") % hit.group())
        position = hit.end()
    pieces.append(escape(text[position:]))
    return Markup("").join(pieces)


def highlight(text: str, query: str, *, context: int | None = None) -> Markup:
    """HTML-escaped ``text`` with every case-insensitive occurrence of a query term in <mark>.

    With ``context=N``, only ±N characters around the first hit (the first 2N characters when
    nothing matches), with "…" where text was cut.
    """
    pattern = _hit_pattern(query)
    if context is None:
        return _marked(text, pattern)
    first = pattern.search(text) if pattern else None
    if first is None:
        start, end = 0, min(len(text), 2 * context)  # as long as a snippet around a hit
    else:
        start, end = max(0, first.start() - context), min(len(text), first.end() + context)
    snippet = _marked(text[start:end], pattern)
    return Markup("").join(
        [Markup("…") if start > 0 else "", snippet, Markup("…") if end < len(text) else ""]
    )


def snippet(submission: Submission, query: str, *, context: int = 30) -> Markup:
    """Where ``submission`` matched: the summary around its first hit, else the first section
    that holds one (a hit only in a section would otherwise show nothing marked)."""
    pattern = _hit_pattern(query)
    texts = [submission.summary, *submission.sections.values()]
    chosen = next((t for t in texts if pattern and pattern.search(t)), submission.summary)
    return highlight(chosen, query, context=context)
