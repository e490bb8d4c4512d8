"""import_batch: job state (submit_rows, rows_total, started_at, heartbeat_at, error)

The template import's confirm runs as a background job; its state is kept on the batch row so
that any process can show progress or see that an interrupted job can be started again.

Revision ID: ef9a0b1c2d3e
Revises: bc5d6e7f8a0c
Create Date: 2026-11-28 22:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ef9a0b1c2d3e'
down_revision = 'bc5d6e7f8a0c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('submit_rows', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column('rows_total', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_column('error')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('started_at')
        batch_op.drop_column('rows_total')
        batch_op.drop_column('submit_rows')
