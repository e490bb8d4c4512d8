"""SQLite search index: contentless FTS5 keyed by date of sending, with a digest per document

The FTS5 table no longer keeps its own copy of the pre-split text (1.4x the text at 100k
submissions); its rowid becomes a search key that lists received submissions newest first, so
that the review queue counts and pages a search from the index alone (feedback/search.py).
``submission_fts_doc`` maps keys to submissions and keeps a digest of each document's tokens,
which a contentless table needs to forget a document safely. PostgreSQL is unchanged.

Revision ID: 6f7a8b9c0d07
Revises: 5e6f7a8b9c06
Create Date: 2026-11-28 19:30:00.000000

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "6f7a8b9c0d07"
down_revision = "5e6f7a8b9c06"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE IF EXISTS submission_fts")
    # content='' keeps the index only; columnsize=0 drops per-row token counts (ranking only).
    op.execute(
        "CREATE VIRTUAL TABLE submission_fts USING fts5("
        "document, content = '', tokenize = 'unicode61 remove_diacritics 0', columnsize = 0)"
    )
    # Per document: its rowid (search key), a digest of its tokens, and for a received
    # submission when it was sent (microseconds since 1970), to place new ones in order.
    op.execute(
        "CREATE TABLE submission_fts_doc ("
        "submission_id INTEGER NOT NULL PRIMARY KEY, "
        "key INTEGER NOT NULL, "
        "digest INTEGER NOT NULL, "
        "sent INTEGER, "
        "CONSTRAINT uq_submission_fts_doc_key UNIQUE (key))"
    )
    op.execute(
        "CREATE INDEX ix_submission_fts_doc_sent ON submission_fts_doc (sent, submission_id) "
        "WHERE key > 0"
    )
    _index_existing()


def _index_existing():
    """Index the submissions that exist already (none on a new database)."""
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT 1 FROM submission LIMIT 1").first() is None:
        return
    # The splitting into tokens and the keys are the app's (feedback.search).
    from feedback.search import reindex_connection

    reindex_connection(bind)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    op.execute("DROP TABLE IF EXISTS submission_fts_doc")
    op.execute("DROP TABLE IF EXISTS submission_fts")
    op.execute(
        "CREATE VIRTUAL TABLE submission_fts USING fts5("
        "document, tokenize = 'unicode61 remove_diacritics 0', columnsize = 0)"
    )
    if bind.exec_driver_sql("SELECT 1 FROM submission LIMIT 1").first() is None:
        return
    # As revision 1a2b3c4d5e01 indexed: rowid = submission id, the pre-split text stored.
    from sqlalchemy import select, text

    from feedback.models import Submission
    from feedback.search import CHUNK, _read_documents, split_for_index

    last = 0
    while True:
        ids = bind.scalars(
            select(Submission.id).where(Submission.id > last).order_by(Submission.id).limit(CHUNK)
        ).all()
        if not ids:
            break
        rows = [
            {"rowid": sid, "document": split_for_index(document)}
            for sid, document in _read_documents(bind, ids).items()
        ]
        bind.execute(
            text("INSERT INTO submission_fts (rowid, document) VALUES (:rowid, :document)"), rows
        )
        last = ids[-1]
