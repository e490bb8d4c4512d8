"""user: reactivated_at, restarting the dormancy clock when an administrator re-enables an account

Revision ID: f1a2b3c4d5e6
Revises: ef9a0b1c2d3e
Create Date: 2026-11-28 22:25:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1a2b3c4d5e6'
down_revision = 'ef9a0b1c2d3e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reactivated_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('reactivated_at')
