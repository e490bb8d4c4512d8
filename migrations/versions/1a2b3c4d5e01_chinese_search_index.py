"""Chinese search index: FTS5 table on SQLite, tsvector table with GIN index on PostgreSQL

One token per CJK character, searched with phrase queries (PERFORMANCE.md §3, feedback/search.py).
These objects are not in the models' metadata: feedback.search writes and reads them with SQL.
The index starts empty for existing rows; upgrade fills it for submissions already present.

Revision ID: 1a2b3c4d5e01
Revises: b97b032335a5
Create Date: 2026-11-29 10:00:00.000000

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "1a2b3c4d5e01"
down_revision = "b97b032335a5"
branch_labels = None
depends_on = None


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # Plain unicode61 on text pre-split by feedback.search (a space between CJK characters);
        # detail=full (the default) keeps the positions that phrase queries need. columnsize=0
        # drops the per-row token counts, which only ranking (bm25) reads: 1% smaller.
        op.execute(
            "CREATE VIRTUAL TABLE submission_fts USING fts5("
            "document, tokenize = 'unicode61 remove_diacritics 0', columnsize = 0)"
        )
    elif dialect == "postgresql":
        # Several parts per submission only for texts past the tsvector position limit (16,383).
        op.execute(
            "CREATE TABLE submission_search ("
            "submission_id INTEGER NOT NULL, "
            "part SMALLINT NOT NULL DEFAULT 0, "
            "document TSVECTOR NOT NULL, "
            "CONSTRAINT pk_submission_search PRIMARY KEY (submission_id, part), "
            "CONSTRAINT fk_submission_search_submission_id_submission FOREIGN KEY (submission_id) "
            "REFERENCES submission (id) ON DELETE CASCADE)"
        )
        op.execute(
            "CREATE INDEX ix_submission_search_document ON submission_search USING gin (document)"
        )
    else:
        raise NotImplementedError(f"no search index for {dialect}; use SQLite or PostgreSQL")
    _index_existing()


def _index_existing():
    """Index the submissions that exist already (none on a new database)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Revision 6f7a8b9c0d07 replaces this table and indexes every submission: the app's
        # indexing code (imported below) writes the later layout, not this one.
        return
    if bind.exec_driver_sql("SELECT 1 FROM submission LIMIT 1").first() is None:
        return
    # The splitting into tokens is the app's (feedback.search); imported only when needed.
    from feedback.search import reindex_connection

    reindex_connection(bind)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS submission_fts")
    else:
        op.execute("DROP TABLE IF EXISTS submission_search")
