"""consolidated suggestions: staff-written suggestions linked to their source submissions

Revision ID: 4d5e6f7a8b05
Revises: 3c4d5e6f7a04
Create Date: 2026-11-28 18:16:39.556237

Source links are never deleted: removing one stamps removed_at, and the partial unique index
allows one active link per (suggestion, submission).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4d5e6f7a8b05'
down_revision = '3c4d5e6f7a04'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('consolidated_suggestion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('suggestion', sa.Text(), nullable=False),
    sa.Column('basis', sa.Text(), nullable=True),
    sa.Column('department', sa.String(length=200), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_consolidated_suggestion_created_by_id_user')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_consolidated_suggestion_updated_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consolidated_suggestion'))
    )
    with op.batch_alter_table('consolidated_suggestion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consolidated_suggestion_updated_at'), ['updated_at'], unique=False)

    op.create_table('consolidated_plan_item',
    sa.Column('consolidated_id', sa.Integer(), nullable=False),
    sa.Column('plan_item_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['consolidated_id'], ['consolidated_suggestion.id'], name=op.f('fk_consolidated_plan_item_consolidated_id_consolidated_suggestion'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_item_id'], ['plan_item.id'], name=op.f('fk_consolidated_plan_item_plan_item_id_plan_item')),
    sa.PrimaryKeyConstraint('consolidated_id', 'plan_item_id', name=op.f('pk_consolidated_plan_item'))
    )
    with op.batch_alter_table('consolidated_plan_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consolidated_plan_item_plan_item_id'), ['plan_item_id'], unique=False)

    op.create_table('consolidated_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consolidated_id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('linked_by_id', sa.Integer(), nullable=False),
    sa.Column('linked_at', sa.DateTime(), nullable=False),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.Column('removed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['consolidated_id'], ['consolidated_suggestion.id'], name=op.f('fk_consolidated_source_consolidated_id_consolidated_suggestion')),
    sa.ForeignKeyConstraint(['linked_by_id'], ['user.id'], name=op.f('fk_consolidated_source_linked_by_id_user')),
    sa.ForeignKeyConstraint(['removed_by_id'], ['user.id'], name=op.f('fk_consolidated_source_removed_by_id_user')),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_consolidated_source_submission_id_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consolidated_source'))
    )
    with op.batch_alter_table('consolidated_source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consolidated_source_submission_id'), ['submission_id'], unique=False)
        batch_op.create_index('uq_consolidated_source_active', ['consolidated_id', 'submission_id'], unique=True, sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))



def downgrade():
    with op.batch_alter_table('consolidated_source', schema=None) as batch_op:
        batch_op.drop_index('uq_consolidated_source_active', sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_consolidated_source_submission_id'))

    op.drop_table('consolidated_source')
    with op.batch_alter_table('consolidated_plan_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consolidated_plan_item_plan_item_id'))

    op.drop_table('consolidated_plan_item')
    with op.batch_alter_table('consolidated_suggestion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consolidated_suggestion_updated_at'))

    op.drop_table('consolidated_suggestion')
