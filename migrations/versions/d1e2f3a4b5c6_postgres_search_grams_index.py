"""PostgreSQL search: a GIN index of token grams over submission's own columns

Replaces the tsvector table ``submission_search`` (2.74x the indexed text, 300 ms for a common
word at 100,000 submissions) by an expression index over ``submission``: the distinct tokens and
pairs of consecutive tokens of each document, tokenized in SQL by functions that equal
``feedback.search._tokens`` (PERFORMANCE.md §3 and §6, bench/RESULTS.md). Attachment names are
copied onto the row (``search_names``) so that the expression sees the whole document. Nothing
changes on SQLite.

Revision ID: d1e2f3a4b5c6
Revises: c9d0e1f2a3b4
Create Date: 2026-11-29 05:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d1e2f3a4b5c6"
down_revision = "c9d0e1f2a3b4"
branch_labels = None
depends_on = None

INDEX = "ix_submission_search_grams"
# Reverse order of creation: each function may call the ones before it.
FUNCTIONS = (
    "feedback_search_may_hold(text, text, text, text, text)",
    "feedback_search_contains(text, text, text, text, text)",
    "feedback_search_query_grams(text[])",
    "feedback_search_grams(text, text, text, text)",
    "feedback_search_document(text, text, text, text)",
    "feedback_search_sections(text)",
    "feedback_search_split(text)",
)
# The tsvector layout of revision 1a2b3c4d5e01, for the downgrade.
WINDOW_TOKENS = 15_000
MAX_PHRASE_TOKENS = 64


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # The tokenizer's character classes are generated from Python's tables by the app's search
    # module, so that the SQL and the Python tokenizers are the same by construction.
    from feedback.search import postgres_functions

    op.execute("DROP TABLE IF EXISTS submission_search")
    op.add_column("submission", sa.Column("search_names", sa.Text(), nullable=True))
    bind.exec_driver_sql(
        "UPDATE submission SET search_names = names.joined FROM ("
        "SELECT submission_id, string_agg(original_name, E'\\n' ORDER BY id) AS joined "
        "FROM attachment GROUP BY submission_id) AS names WHERE names.submission_id = submission.id"
    )
    schema = bind.dialect.identifier_preparer.quote_schema(
        bind.exec_driver_sql("SELECT current_schema()").scalar()
    )
    for statement in postgres_functions(schema):
        bind.exec_driver_sql(statement)
    bind.exec_driver_sql(
        f"CREATE INDEX {INDEX} ON submission USING gin "
        "(feedback_search_grams(title, summary, sections_json, search_names))"
    )
    # No statistics of the grams: with them the planner, seeing a common word in most rows,
    # computes the grams of every row instead of reading the index (a minute, not 60 ms).
    # Without, it assumes a contained element is rare and always reads the index.
    bind.exec_driver_sql(f"ALTER INDEX {INDEX} ALTER COLUMN 1 SET STATISTICS 0")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_column("submission", "search_names")
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
    _fill_tsvectors(bind)


def _windows(tokens):
    """Overlapping parts within the tsvector position limit (16,383), as 1a2b3c4d5e01 stored."""
    if len(tokens) <= WINDOW_TOKENS:
        return [" ".join(tokens)]
    step = WINDOW_TOKENS - MAX_PHRASE_TOKENS
    parts = []
    for start in range(0, len(tokens), step):
        parts.append(" ".join(tokens[start : start + WINDOW_TOKENS]))
        if start + WINDOW_TOKENS >= len(tokens):
            break
    return parts


def _fill_tsvectors(bind):
    """Index every submission the way the tsvector table wants (none on a new database)."""
    from feedback.search import CHUNK, _read_documents, _tokens

    last = 0
    while True:
        ids = [
            row[0]
            for row in bind.execute(
                sa.text("SELECT id FROM submission WHERE id > :last ORDER BY id LIMIT :n"),
                {"last": last, "n": CHUNK},
            )
        ]
        if not ids:
            return
        rows = [
            {"id": sid, "part": part, "document": window}
            for sid, document in _read_documents(bind, ids).items()
            for part, window in enumerate(_windows(_tokens(document)))
        ]
        if rows:
            bind.execute(
                sa.text(
                    "INSERT INTO submission_search (submission_id, part, document) "
                    "VALUES (:id, :part, to_tsvector('simple', :document))"
                ),
                rows,
            )
        last = ids[-1]
