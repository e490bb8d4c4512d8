"""review queue: indexes for newest-sent-first pages and keyset cursors

Revision ID: 5e6f7a8b9c06
Revises: 8192a3b4c509
Create Date: 2026-11-28 19:00:00.000000

Written by hand to match feedback/models/submission.py. The queue orders by (submitted_at, id):
with these an unfiltered queue, a status tab and a campaign read page 1 and seek any cursor in an
index instead of sorting every matching row (bench/queue_bench.py, bench/RESULTS.md).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5e6f7a8b9c06'
down_revision = '8192a3b4c509'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index('ix_submission_submitted', ['submitted_at', 'id'], unique=False)
        batch_op.create_index('ix_submission_status_submitted', ['status', 'submitted_at', 'id'], unique=False)
        batch_op.create_index('ix_submission_campaign_submitted', ['campaign_id', 'submitted_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index('ix_submission_campaign_submitted')
        batch_op.drop_index('ix_submission_status_submitted')
        batch_op.drop_index('ix_submission_submitted')
