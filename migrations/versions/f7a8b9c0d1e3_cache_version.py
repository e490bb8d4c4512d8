"""cache_version: the number that tells processes their copy of the staff menus is out of date

Revision ID: f7a8b9c0d1e3
Revises: c9d0e1f2a3b4
Create Date: 2026-11-29 04:00:00.000000

Written by hand to match feedback/models/cache.py. See feedback/menus.py: the queue page read
four menus from the database on every request; each process now keeps them until a write to
them raises this number.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f7a8b9c0d1e3'
down_revision = 'c9d0e1f2a3b4'
branch_labels = None
depends_on = None


def upgrade():
    # No row: the first write to a menu makes it (feedback.menus.changed), and a new database
    # stays empty for copy-database and restore.
    op.create_table(
        'cache_version',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_cache_version')),
    )


def downgrade():
    op.drop_table('cache_version')
