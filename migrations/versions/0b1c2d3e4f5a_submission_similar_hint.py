"""submission.similar_hint: the queue's "has similar" filter reads an index, not every link

Revision ID: 0b1c2d3e4f5a
Revises: f7a8b9c0d1e3
Create Date: 2026-11-29 07:30:00.000000

Written by hand to match feedback/models/submission.py. On PostgreSQL the filter's correlated
EXISTS was planned as a hash of every live link joined with every visible submission, built for
each of a request's three statements (120 ms p95 at 100,000, bench/RESULTS.md). The hint marks the
submissions a live link names; the partial index lists them by status, newest first, and the
links are then probed for those rows only. Filled here from the links as they are.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0b1c2d3e4f5a'
down_revision = 'f7a8b9c0d1e3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('similar_hint', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(
        "UPDATE submission SET similar_hint = true WHERE id IN ("
        "SELECT submission_a_id FROM similarity_link WHERE status <> 'dismissed' UNION "
        "SELECT submission_b_id FROM similarity_link WHERE status <> 'dismissed')"
    )
    op.create_index(
        'ix_submission_similar', 'submission', ['status', 'submitted_at', 'id'], unique=False,
        postgresql_where=sa.text('similar_hint'), sqlite_where=sa.text('similar_hint'),
    )


def downgrade():
    op.drop_index('ix_submission_similar', table_name='submission')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_column('similar_hint')
