"""Similar submissions: character 3-gram MinHash, LSH bands, and staff-judged links.

- Text: title, summary and section texts; NFKC, Latin lowercased, everything that is not a
  letter or digit removed (DESIGN.md §5: character n-grams, not whitespace words).
- Signature: :data:`NUM_HASHES` values by one-permutation MinHash with rotation densification
  (Shrivastava & Li, 2014): each distinct shingle is hashed once with BLAKE2b and goes to one bin,
  so a signature costs O(shingles) in pure Python rather than O(shingles × hashes).
  Two signatures agree in a position with probability ≈ the Jaccard similarity of the shingle sets.
- LSH: :data:`BANDS` bands of :data:`ROWS` values, each band hashed to a signed 64-bit bucket in
  ``similarity_band``. Submissions sharing a bucket are candidates (≈ 0.42 Jaccard at the S-curve's
  midpoint); candidates are ranked by how many buckets they share, then scored from their
  signatures; a pair scoring ≥ :data:`THRESHOLD` becomes a ``detected`` link.
- Each submission keeps its :data:`MAX_LINKS` best detected links, so that a template-like text
  shared by thousands of submissions does not produce millions of links. Confirmed and dismissed
  links are human decisions: they are kept whatever the score becomes, with the score refreshed.

:func:`install` keeps signatures and links in step with ORM flushes (as ``feedback.search`` does
for the search index); after Core bulk inserts, call :func:`update` or :func:`rebuild`.

``submission.similar_hint`` is set on both submissions of every link that is not dismissed, by
whatever writes the link (:func:`mark_similar`); only :func:`rebuild` clears it. The review
queue's "has similar" filter reads it on PostgreSQL, then checks the links themselves.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Table,
    case,
    delete,
    event,
    inspect,
    or_,
    select,
    true,
    tuple_,
    union,
)
from sqlalchemy import update as update_statement
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, UOWTransaction, scoped_session

from feedback.codes.regions import province_of
from feedback.database import upsert_insert
from feedback.exceptions import PermissionDenied
from feedback.extensions import db
from feedback.filing import workflow
from feedback.filing.services import visible_submissions
from feedback.models.base import utcnow
from feedback.models.similarity import (
    LinkStatus,
    SimilarityBand,
    SimilarityLink,
    SimilaritySignature,
)
from feedback.models.submission import Submission
from feedback.models.user import STAFF_ROLES, User

NUM_HASHES = 128
BANDS = 32
ROWS = NUM_HASHES // BANDS
# A pair at or above this estimated Jaccard similarity is linked as ``detected`` (chosen on the
# labelled set of bench/similarity_bench.py: precision 0.89, recall 0.88; 0.5 gives 0.97 / 0.67).
THRESHOLD = 0.4
SHINGLE = 3
# Detected links kept per submission (its best ones), and candidates scored to choose them.
MAX_LINKS = 10
MAX_CANDIDATES = 200
# rebuild() counts at most this many members of one bucket per submission (see there).
BUCKET_WINDOW = 64
CHUNK = 2_000
# 24-bit values leave room below 2**32 for the densification offsets (bin distance × 2**24).
_VALUE_BITS = 24
_VALUE_MASK = (1 << _VALUE_BITS) - 1
_BIN_MASK = NUM_HASHES - 1
_PACK = struct.Struct(f">{NUM_HASHES}I")
# The "seed": changing it (or the constants above) changes every signature; rebuild() after.
_PERSON = b"fb-sim-v1"

_WORD = re.compile(r"[^\W_]+")
_TEXT_ATTRIBUTES = ("title", "summary", "sections_json")
# Core handles of the tables, for bulk statements.
_LINKS = cast(Table, SimilarityLink.__table__)
_SUBMISSIONS = cast(Table, Submission.__table__)
_SIGNATURES = cast(Table, SimilaritySignature.__table__)
_BANDS = cast(Table, SimilarityBand.__table__)


# -- signatures --------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """``text`` as compared: NFKC, lowercase, only letters and digits, no spaces."""
    # NFKC folds full-width Latin and digits (ＨＡＺＯＰ, ２０２６) as people type both.
    return "".join(_WORD.findall(unicodedata.normalize("NFKC", text).lower()))


def shingles(text: str) -> set[str]:
    """The character 3-grams of the normalised ``text`` (the whole text if shorter)."""
    compact = normalise(text)
    if len(compact) <= SHINGLE:
        return {compact} if compact else set()
    return {compact[i : i + SHINGLE] for i in range(len(compact) - SHINGLE + 1)}


@lru_cache(maxsize=1 << 18)
def _shingle_hash(shingle: str) -> int:
    # Cached: the same phrases recur across a federation's reports, and hashing is the main cost.
    digest = hashlib.blake2b(shingle.encode(), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "big")


def signature(text: str) -> list[int]:
    """The MinHash signature of ``text`` (:data:`NUM_HASHES` ints; empty for text without
    letters or digits)."""
    bins: list[int | None] = [None] * NUM_HASHES
    for shingle in shingles(text):
        h = _shingle_hash(shingle)
        index, value = h & _BIN_MASK, (h >> 7) & _VALUE_MASK
        current = bins[index]
        if current is None or value < current:
            bins[index] = value
    if all(b is None for b in bins):
        return []
    # Rotation densification: an empty bin borrows the next non-empty bin to its right, offset by
    # the distance, so both texts of a pair fill their empty bins by the same rule.
    result = [0] * NUM_HASHES
    for index in range(NUM_HASHES):
        distance = 0
        found = bins[index]
        while found is None:
            distance += 1
            found = bins[(index + distance) & _BIN_MASK]
        result[index] = found + (distance << _VALUE_BITS)
    return result


def estimate(sig_a: Sequence[int], sig_b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of two signatures (0.0 if either is empty)."""
    if not sig_a or not sig_b:
        return 0.0
    return sum(1 for a, b in zip(sig_a, sig_b, strict=True) if a == b) / NUM_HASHES


def band_keys(sig: Sequence[int]) -> list[int]:
    """The signed 64-bit bucket of each band of ``sig`` (none for an empty signature)."""
    if not sig:
        return []
    keys = []
    for band in range(BANDS):
        chunk = struct.pack(f">{ROWS}I", *sig[band * ROWS : (band + 1) * ROWS])
        digest = hashlib.blake2b(chunk, digest_size=8, person=_PERSON).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def _pack(sig: Sequence[int]) -> bytes:
    return _PACK.pack(*sig) if sig else b""


def _unpack(data: bytes) -> list[int]:
    return list(_PACK.unpack(data)) if data else []


def _document(title: str | None, summary: str | None, sections_json: str | None) -> str:
    try:
        sections = json.loads(sections_json or "{}")
    except ValueError:
        sections = sections_json  # not JSON: compare the raw text rather than fail
    texts = [str(v) for v in sections.values()] if isinstance(sections, dict) else [str(sections)]
    return "\n".join(part for part in (title or "", summary or "", *texts) if part)


def submission_text(submission: Submission) -> str:
    """The text a submission is compared by: title, summary and section texts."""
    return _document(submission.title, submission.summary, submission.sections_json)


# -- writing signatures, bands and links --------------------------------------------------------


def _chunks(ids: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _connection(session: Session | scoped_session[Any]) -> Connection:
    return session.connection(bind_arguments={"mapper": Submission})


def _read_signatures(connection: Connection, ids: Iterable[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = connection.execute(
            select(SimilaritySignature.submission_id, SimilaritySignature.minhash).where(
                SimilaritySignature.submission_id.in_(chunk)
            )
        )
        found.update((sid, _unpack(data)) for sid, data in rows)
    return found


def _write_signatures(connection: Connection, ids: Sequence[int]) -> dict[int, list[int]]:
    """Recompute and store the signatures and band rows of ``ids``; returns the signatures."""
    rows = connection.execute(
        select(Submission.id, Submission.title, Submission.summary, Submission.sections_json)
        .where(Submission.id.in_(ids))
        .order_by(Submission.id)
    ).all()
    sigs = {sid: signature(_document(t, s, j)) for sid, t, s, j in rows}
    connection.execute(delete(SimilarityBand).where(SimilarityBand.submission_id.in_(ids)))
    connection.execute(
        delete(SimilaritySignature).where(SimilaritySignature.submission_id.in_(ids))
    )
    _insert_signatures(connection, sigs)
    return sigs


def _insert_signatures(connection: Connection, sigs: dict[int, list[int]]) -> None:
    now = utcnow()
    signature_rows = [
        {"submission_id": sid, "minhash": _pack(sig), "updated_at": now}
        for sid, sig in sigs.items()
    ]
    band_rows = [
        {"submission_id": sid, "band": band, "bucket": key}
        for sid, sig in sigs.items()
        for band, key in enumerate(band_keys(sig))
    ]
    if signature_rows:
        connection.execute(_SIGNATURES.insert(), signature_rows)
    for start in range(0, len(band_rows), CHUNK * 8):
        connection.execute(_BANDS.insert(), band_rows[start : start + CHUNK * 8])


def _candidates(connection: Connection, submission_id: int) -> list[int]:
    """Submissions sharing a band bucket with ``submission_id``, most shared buckets first.

    In a bucket of more than :data:`BUCKET_WINDOW` members only the nearest ids are counted, as
    :func:`rebuild` counts them: boilerplate texts fill buckets with thousands of members, and
    counting them all made one update cost seconds at 100,000 submissions. Per bucket, up to a
    window of neighbours on each side is read from the covering index.
    """
    mine = select(SimilarityBand.band, SimilarityBand.bucket).where(
        SimilarityBand.submission_id == submission_id
    )
    keys = [(band, bucket) for band, bucket in connection.execute(mine)]
    if not keys:
        return []
    reach = BUCKET_WINDOW - 1  # enough on each side to tell a small bucket from a large one
    band_id = SimilarityBand.submission_id
    below: dict[int, list[int]] = {}
    above: dict[int, list[int]] = {}
    # Small statements, one per bucket and side, each a seek in the covering index: a single
    # UNION ALL of all 64 cost more to compile than these cost to run.
    for index, (band, bucket) in enumerate(keys):
        same = (SimilarityBand.band == band, SimilarityBand.bucket == bucket)
        below[index] = list(connection.scalars(
            select(band_id).where(*same, band_id < submission_id)
            .order_by(band_id.desc()).limit(reach)
        ))  # fmt: skip
        above[index] = list(connection.scalars(
            select(band_id).where(*same, band_id > submission_id)
            .order_by(band_id.asc()).limit(reach)
        ))  # fmt: skip
    shared: Counter[int] = Counter()
    for index in range(len(keys)):
        before, after = below[index], above[index]  # nearest first
        if len(before) + len(after) + 1 <= BUCKET_WINDOW:
            shared.update(before + after)
        else:
            # rebuild(): the window starts up to half of it before this submission.
            before = before[: BUCKET_WINDOW // 2]
            shared.update(before + after[: BUCKET_WINDOW - 1 - len(before)])
    ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))
    return [sid for sid, _count in ranked[:MAX_CANDIDATES]]


def _upsert_links(
    connection: Connection,
    scores: dict[tuple[int, int], float],
    dismissed: Iterable[tuple[int, int]] = (),
) -> None:
    """Create ``detected`` links for new pairs; refresh the score of existing ones (any status).
    ``dismissed``: pairs known to be dismissed, whose submissions need no similar_hint."""
    if not scores:
        return
    insert = upsert_insert(connection.dialect.name)
    now = utcnow()
    rows = [
        {
            "submission_a_id": a,
            "submission_b_id": b,
            "score": score,
            "status": LinkStatus.DETECTED.value,
            "created_at": now,
        }
        for (a, b), score in sorted(scores.items())
    ]
    table = _LINKS
    for start in range(0, len(rows), CHUNK):
        statement = insert(table).values(rows[start : start + CHUNK])
        statement = statement.on_conflict_do_update(
            index_elements=["submission_a_id", "submission_b_id"],
            set_={"score": statement.excluded.score},
        )
        connection.execute(statement)
    # Every other pair is live after this (or a dismissed link the caller did not know of: one
    # True more, which the queue's own check of the links ignores).
    skip = set(dismissed)
    mark_similar(connection, {sid for pair in scores if pair not in skip for sid in pair})


def _live_ids() -> Any:
    """The ids of the submissions a link that is not dismissed names (a SELECT)."""
    live = _LINKS.c.status != LinkStatus.DISMISSED.value
    return union(
        select(_LINKS.c.submission_a_id).where(live),
        select(_LINKS.c.submission_b_id).where(live),
    )


def mark_similar(connection: Connection, submission_ids: Iterable[int]) -> None:
    """Set ``similar_hint`` on ``submission_ids`` (those not set yet: a set row is not written,
    locked or versioned again). Call whenever a link that is not dismissed is written without
    the ORM; ORM writes of :class:`SimilarityLink` call it by themselves (:func:`install`)."""
    ids = sorted(set(submission_ids))
    for chunk in _chunks(ids):
        connection.execute(
            update_statement(_SUBMISSIONS)
            .where(_SUBMISSIONS.c.id.in_(chunk), _SUBMISSIONS.c.similar_hint.is_not(true()))
            .values(similar_hint=True)
        )


def recount_similar(connection: Connection) -> None:
    """Make ``similar_hint`` exact: set where a live link names the submission, cleared
    elsewhere (after dismissals and deleted links; :func:`rebuild` calls it)."""
    hinted = _SUBMISSIONS.c.similar_hint
    connection.execute(
        update_statement(_SUBMISSIONS)
        .where(hinted, _SUBMISSIONS.c.id.not_in(_live_ids()))
        .values(similar_hint=False)
    )
    connection.execute(
        update_statement(_SUBMISSIONS)
        .where(hinted.is_not(true()), _SUBMISSIONS.c.id.in_(_live_ids()))
        .values(similar_hint=True)
    )


def _pair(x: int, y: int) -> tuple[int, int]:
    return (x, y) if x < y else (y, x)


def _update_connection(connection: Connection, submission_ids: Iterable[int]) -> None:
    ids = sorted(set(submission_ids))
    sigs: dict[int, list[int]] = {}
    for chunk in _chunks(ids):
        sigs.update(_write_signatures(connection, chunk))
    link_table = _LINKS
    for sid in ids:
        sig = sigs.get(sid, [])
        existing = connection.execute(
            select(
                link_table.c.submission_a_id, link_table.c.submission_b_id, link_table.c.status
            ).where(or_(link_table.c.submission_a_id == sid, link_table.c.submission_b_id == sid))
        ).all()
        candidates = _candidates(connection, sid) if sig else []
        others = {a if b == sid else b for a, b, _status in existing} | set(candidates)
        other_sigs = _read_signatures(connection, others)
        # Signatures written in this same call are newer than what was read back: prefer them.
        other_sigs.update((o, sigs[o]) for o in others if o in sigs)
        scored = {o: estimate(sig, other_sigs.get(o, [])) for o in others}
        best = sorted(
            (o for o in candidates if scored[o] >= THRESHOLD), key=lambda o: (-scored[o], o)
        )[:MAX_LINKS]
        keep = {_pair(sid, o): scored[o] for o in best}
        stale: list[tuple[int, int]] = []
        for a, b, status in existing:
            other = a if b == sid else b
            if status != LinkStatus.DETECTED.value or scored[other] >= THRESHOLD:
                keep[(a, b)] = scored[other]  # decided, or still similar: refresh the score
            else:
                stale.append((a, b))  # an undecided suggestion that no longer holds
        if stale:
            connection.execute(
                delete(link_table).where(
                    link_table.c.status == LinkStatus.DETECTED.value,
                    tuple_(link_table.c.submission_a_id, link_table.c.submission_b_id).in_(stale),
                )
            )
        dismissed = [(a, b) for a, b, status in existing if status == LinkStatus.DISMISSED.value]
        _upsert_links(connection, keep, dismissed)


def update(session: Session | scoped_session[Any], submission_ids: Iterable[int]) -> None:
    """Recompute the signatures, band rows and links of ``submission_ids``.

    Creates or refreshes ``detected`` links with candidates scoring ≥ :data:`THRESHOLD`, drops
    ``detected`` links that fell below it, and only refreshes the score of confirmed and dismissed
    links. Flushes first and runs in the session's transaction (the caller commits).
    """
    session.flush()
    _update_connection(_connection(session), submission_ids)
    # Links were written with Core: loaded SimilarityLink objects must not show stale scores.
    for instance in list(session.identity_map.values()):
        if isinstance(instance, SimilarityLink):
            session.expire(instance)


def rebuild(session: Session | scoped_session[Any]) -> dict[str, float]:
    """Recompute every signature, band row and detected link (after bulk seeding or imports).

    Confirmed and dismissed links are kept, with refreshed scores. Runs in the session's
    transaction (the caller commits); returns counts and seconds per phase.
    """
    import time

    session.flush()
    connection = _connection(session)
    started = time.perf_counter()
    connection.execute(delete(SimilarityBand))
    connection.execute(delete(SimilaritySignature))
    sigs: dict[int, list[int]] = {}
    last = 0
    while True:
        rows = connection.execute(
            select(Submission.id, Submission.title, Submission.summary, Submission.sections_json)
            .where(Submission.id > last)
            .order_by(Submission.id)
            .limit(CHUNK * 5)
        ).all()
        if not rows:
            break
        chunk = {sid: signature(_document(t, s, j)) for sid, t, s, j in rows}
        _insert_signatures(connection, chunk)
        sigs.update(chunk)
        last = rows[-1][0]
    signed = time.perf_counter()

    # Candidates in memory: bucket → members, then per submission the members it shares buckets
    # with, counted; the most-shared are scored, as _candidates() does in SQL.
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    keys_of: dict[int, list[tuple[tuple[int, int], int]]] = {}
    for sid, sig in sigs.items():
        keys = []
        for band, key in enumerate(band_keys(sig)):
            members = buckets[(band, key)]
            keys.append(((band, key), len(members)))  # sid's position in the bucket
            members.append(sid)
        keys_of[sid] = keys
    scores: dict[tuple[int, int], float] = {}
    for sid, keys in keys_of.items():
        shared: Counter[int] = Counter()
        for bucket_key, position in keys:
            members = buckets[bucket_key]
            if len(members) <= BUCKET_WINDOW:
                shared.update(members)
            else:
                # Boilerplate texts fill buckets with thousands of members; counting them all is
                # quadratic. Nearby ids in the bucket stand in for the rest: each submission only
                # keeps MAX_LINKS links anyway, and its members agree on those 4 values exactly.
                start = max(0, position - BUCKET_WINDOW // 2)
                shared.update(members[start : start + BUCKET_WINDOW])
        shared.pop(sid, None)
        # Ties broken by id, as in SQL, so that rebuild() and update() choose the same links.
        ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))[:MAX_CANDIDATES]
        sig = sigs[sid]
        best = sorted(
            ((estimate(sig, sigs[o]), o) for o, _n in ranked), key=lambda x: (-x[0], x[1])
        )
        for score, other in best[:MAX_LINKS]:
            if score < THRESHOLD:
                break
            scores[_pair(sid, other)] = score
    candidates_done = time.perf_counter()

    link_table = _LINKS
    connection.execute(delete(link_table).where(link_table.c.status == LinkStatus.DETECTED.value))
    for a, b in connection.execute(
        select(link_table.c.submission_a_id, link_table.c.submission_b_id)
    ):
        scores[(a, b)] = estimate(sigs.get(a, []), sigs.get(b, []))
    _upsert_links(connection, scores)
    recount_similar(connection)
    if connection.dialect.name == "postgresql":
        for table in ("similarity_band", "similarity_signature", "similarity_link"):
            # nosemgrep: sql-text-built-from-strings -- table names from the literal tuple above
            connection.exec_driver_sql(f"ANALYZE {table}")
    else:
        connection.exec_driver_sql("ANALYZE")
    for instance in list(session.identity_map.values()):
        if isinstance(instance, SimilarityLink):
            session.expire(instance)
    done = time.perf_counter()
    return {
        "submissions": len(sigs),
        "links": len(scores),
        "signatures_s": signed - started,
        "candidates_s": candidates_done - signed,
        "links_s": done - candidates_done,
        "total_s": done - started,
    }


# -- reading -----------------------------------------------------------------------------------


def _linked(submission_id: int, *, include_dismissed: bool) -> Any:
    """Subquery of (link id, other submission id) for the links of ``submission_id``."""
    link = SimilarityLink
    statement = select(
        link.id.label("link_id"),
        case(
            (link.submission_a_id == submission_id, link.submission_b_id),
            else_=link.submission_a_id,
        ).label("other_id"),
    ).where(or_(link.submission_a_id == submission_id, link.submission_b_id == submission_id))
    if not include_dismissed:
        statement = statement.where(link.status != LinkStatus.DISMISSED)
    return statement.subquery()


def _may_see(session: Session | scoped_session[Any], submission: Submission, user: User) -> bool:
    statement = visible_submissions(user).where(Submission.id == submission.id)
    return session.scalar(select(statement.exists())) is True


def similar_to(
    session: Session | scoped_session[Any],
    submission: Submission,
    user: User,
    limit: int = 10,
    *,
    include_dismissed: bool = False,
) -> list[tuple[Submission, float, SimilarityLink]]:
    """The linked submissions ``user`` may see, best score first (dismissed left out by default).

    Only submissions in ``visible_submissions(user)`` are returned, and nothing at all when the
    user may not see ``submission`` itself: a submitter never learns of another organisation's
    report this way.
    """
    if not _may_see(session, submission, user):
        return []
    linked = _linked(submission.id, include_dismissed=include_dismissed)
    statement = (
        visible_submissions(user)
        .join(linked, linked.c.other_id == Submission.id)
        .join(SimilarityLink, SimilarityLink.id == linked.c.link_id)
        .add_columns(SimilarityLink)
        .order_by(SimilarityLink.score.desc(), Submission.id)
        .limit(limit)
    )
    return [(other, link.score, link) for other, link in session.execute(statement)]


def cluster_summary(
    session: Session | scoped_session[Any], submission: Submission, user: User
) -> tuple[int, int, int]:
    """(similar submissions, organisations, provinces) over ``submission``'s detected and
    confirmed links, counting only what ``user`` may see; organisations and provinces include
    ``submission``'s own: "12 organisations in 7 provinces raised a similar problem"."""
    if not _may_see(session, submission, user):
        return (0, 0, 0)
    linked = _linked(submission.id, include_dismissed=False)
    visible = visible_submissions(user).subquery()
    rows = session.execute(
        select(visible.c.organisation_id, visible.c.region_code).join(
            linked, linked.c.other_id == visible.c.id
        )
    ).all()
    organisations = {submission.organisation_id} | {org for org, _region in rows}
    regions = {submission.region_code or submission.organisation.region_code} | {
        region for _org, region in rows
    }
    provinces = {p.code for code in regions if code and (p := province_of(code)) is not None}
    return (len(rows), len(organisations), len(provinces))


# -- decisions ---------------------------------------------------------------------------------


def _decide(actor: User, link: SimilarityLink, status: LinkStatus, action: str) -> None:
    if not actor.has_role(*STAFF_ROLES):
        raise PermissionDenied("only federation staff decide whether submissions are similar")
    link.status = status
    link.decided_by_id = actor.id
    link.decided_at = utcnow()
    first = db.session.get_one(Submission, link.submission_a_id)
    second = db.session.get_one(Submission, link.submission_b_id)
    # The note names the other submission, so that each history page reads on its own.
    workflow.record_event(first, actor, action, note=second.reference)
    workflow.record_event(second, actor, action, note=first.reference)
    db.session.flush()


def confirm(actor: User, link: SimilarityLink) -> None:
    """Staff confirm that the pair raises the same issue (kept and counted, never merged)."""
    _decide(actor, link, LinkStatus.CONFIRMED, "similar_confirmed")


def dismiss(actor: User, link: SimilarityLink) -> None:
    """Staff judge the pair not similar; the link stays (so it is not suggested again)."""
    _decide(actor, link, LinkStatus.DISMISSED, "similar_dismissed")


# -- keeping in step with ORM writes -----------------------------------------------------------

_PENDING = "feedback.similarity.pending"  # key in Session.info: submission ids to update
_DEFERRED = "feedback.similarity.deferred"  # key in Session.info: leave updates to a job


def _submission_written(_mapper: object, _connection: object, target: Submission) -> None:
    session = inspect(target).session
    if session is not None:
        session.info.setdefault(_PENDING, set()).add(target.id)


def _submission_updated(_mapper: object, _connection: object, target: Submission) -> None:
    # Most updates are status changes and version bumps: only a changed text is recomputed.
    state = inspect(target)
    if any(state.attrs[name].history.has_changes() for name in _TEXT_ATTRIBUTES):
        _submission_written(_mapper, _connection, target)


def _link_written(_mapper: object, connection: Connection, target: SimilarityLink) -> None:
    # A link made or decided through the ORM (a confirmation, a test's factory): its two
    # submissions get their hint in the same flush.
    if target.status != LinkStatus.DISMISSED:
        mark_similar(connection, (target.submission_a_id, target.submission_b_id))


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    # Written on the flush's own connection: signatures and links commit or roll back with it.
    ids = session.info.pop(_PENDING, None)
    if ids and not session.info.get(_DEFERRED):
        _update_connection(_connection(session), ids)


def _after_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_PENDING, None)


@contextmanager
def deferred(session: Session | scoped_session[Any]) -> Iterator[None]:
    """Within the block, flushes leave signatures and links alone; afterwards (committed), run
    :func:`update_missing` as a background job. For bulk writes in a request — a 1,000-row
    template import spent most of a 5-minute confirm here (bench/RESULTS.md) — at the price of
    "similar" lists that fill in a little after the rows appear."""
    info = session.info
    info[_DEFERRED] = True
    try:
        yield
    finally:
        info.pop(_DEFERRED, None)


def update_missing(batch: int = 100) -> int:
    """Compute signatures and links of every submission that has none yet, committing every
    ``batch`` (a background job; safe to run twice or concurrently). Returns how many."""
    done = failures = 0
    while True:
        ids = list(db.session.scalars(
            select(Submission.id)
            .outerjoin(SimilaritySignature, SimilaritySignature.submission_id == Submission.id)
            .where(SimilaritySignature.submission_id.is_(None))
            .order_by(Submission.id)
            .limit(batch)
        ))  # fmt: skip
        if not ids:
            return done
        try:
            update(db.session, ids)
            db.session.commit()
        except (IntegrityError, OperationalError):  # another job wrote them first (or, on
            db.session.rollback()  # SQLite, a writer moved on since this batch was read)
            failures += 1
            if failures > 5:
                raise
            continue
        done += len(ids)


_HOOKS: tuple[tuple[Any, str, Any], ...] = (
    (Submission, "after_insert", _submission_written),
    (Submission, "after_update", _submission_updated),
    (SimilarityLink, "after_insert", _link_written),
    (SimilarityLink, "after_update", _link_written),
    (Session, "after_flush", _after_flush),
    (Session, "after_soft_rollback", _after_rollback),
)


def install(app_or_none: object = None) -> None:
    """Keep signatures and links in step with every ORM flush that inserts a submission or
    changes its text (deleted submissions lose their rows by ON DELETE CASCADE). Idempotent."""
    for target, name, function in _HOOKS:
        if not event.contains(target, name, function):
            event.listen(target, name, function)


def uninstall() -> None:
    """Remove the hooks of :func:`install`."""
    for target, name, function in _HOOKS:
        if event.contains(target, name, function):
            event.remove(target, name, function)


__all__ = [
    "BANDS",
    "NUM_HASHES",
    "THRESHOLD",
    "cluster_summary",
    "confirm",
    "dismiss",
    "estimate",
    "install",
    "mark_similar",
    "rebuild",
    "recount_similar",
    "signature",
    "similar_to",
    "uninstall",
    "update",
]
