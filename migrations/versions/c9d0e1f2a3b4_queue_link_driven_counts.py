"""review queue: narrow covering index of submission, link tables indexed (key, submission)

Revision ID: c9d0e1f2a3b4
Revises: a7b8c9d0e1f2
Create Date: 2026-11-29 01:00:00.000000

Written by hand to match feedback/models/submission.py. The queue's capped counts with a tag, a
plan item or "has similar" read the link table first and look each submission up: with these the
link side is an index-only range and each look-up reads a narrow index instead of a 3–9 KB row
(bench/queue_bench.py, bench/RESULTS.md). The (key, submission) indexes replace the single-column
ones on tag_id and plan_item_id, which they cover.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c9d0e1f2a3b4'
down_revision = 'a7b8c9d0e1f2'
branch_labels = None
depends_on = None

QUEUE_COLUMNS = ['id', 'status', 'kind', 'submitted_at', 'organisation_id', 'campaign_id', 'assignee_id']


def upgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index('ix_submission_queue_columns', QUEUE_COLUMNS, unique=False)
    with op.batch_alter_table('submission_tag', schema=None) as batch_op:
        batch_op.create_index('ix_submission_tag_tag_submission', ['tag_id', 'submission_id'], unique=False)
        batch_op.drop_index('ix_submission_tag_tag_id')
    with op.batch_alter_table('submission_plan_item', schema=None) as batch_op:
        batch_op.create_index('ix_submission_plan_item_item_submission', ['plan_item_id', 'submission_id'], unique=False)
        batch_op.drop_index('ix_submission_plan_item_plan_item_id')
    # Statistics for the new indexes: without them SQLite takes a submission by its rowid (the
    # whole row) rather than from ix_submission_queue_columns, and may walk the status index
    # instead of the link's (tests/review/test_queue_plans.py). Only for a database with data:
    # statistics taken of empty tables tell SQLite every table is tiny, and the plans it then
    # keeps as the data grows are far worse than none (seeding 100,000 submissions into a new
    # database took 643 s instead of ~40, most of it in the search index's own look-ups).
    bind = op.get_bind()
    if bind.execute(sa.text('SELECT count(*) FROM (SELECT 1 FROM submission LIMIT 1000) AS head')).scalar() >= 1000:
        op.execute('ANALYZE')


def downgrade():
    with op.batch_alter_table('submission_plan_item', schema=None) as batch_op:
        batch_op.create_index('ix_submission_plan_item_plan_item_id', ['plan_item_id'], unique=False)
        batch_op.drop_index('ix_submission_plan_item_item_submission')
    with op.batch_alter_table('submission_tag', schema=None) as batch_op:
        batch_op.create_index('ix_submission_tag_tag_id', ['tag_id'], unique=False)
        batch_op.drop_index('ix_submission_tag_tag_submission')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index('ix_submission_queue_columns')
