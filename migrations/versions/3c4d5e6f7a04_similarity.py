"""similarity: links between similar submissions, MinHash signatures, LSH bands

Revision ID: 3c4d5e6f7a04
Revises: 2b3c4d5e6f02
Create Date: 2026-12-01 10:00:00.000000

Written by hand to match feedback/models/similarity.py. The signature and band rows are derived
data: after upgrading, fill them with ``feedback.review.similarity.rebuild``.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c4d5e6f7a04'
down_revision = '2b3c4d5e6f02'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('similarity_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_a_id', sa.Integer(), nullable=False),
    sa.Column('submission_b_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('status', sa.Enum('detected', 'confirmed', 'dismissed', name='status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('submission_a_id < submission_b_id', name=op.f('ck_similarity_link_ordered')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_similarity_link_decided_by_id_user')),
    sa.ForeignKeyConstraint(['submission_a_id'], ['submission.id'], name=op.f('fk_similarity_link_submission_a_id_submission'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_b_id'], ['submission.id'], name=op.f('fk_similarity_link_submission_b_id_submission'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_similarity_link')),
    sa.UniqueConstraint('submission_a_id', 'submission_b_id', name=op.f('uq_similarity_link_submission_a_id_submission_b_id'))
    )
    with op.batch_alter_table('similarity_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_similarity_link_submission_b_id'), ['submission_b_id'], unique=False)

    op.create_table('similarity_signature',
    sa.Column('submission_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('minhash', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_similarity_signature_submission_id_submission'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('submission_id', name=op.f('pk_similarity_signature'))
    )
    op.create_table('similarity_band',
    sa.Column('submission_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('band', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_similarity_band_submission_id_submission'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('submission_id', 'band', name=op.f('pk_similarity_band'))
    )
    with op.batch_alter_table('similarity_band', schema=None) as batch_op:
        batch_op.create_index('ix_similarity_band_bucket', ['band', 'bucket', 'submission_id'], unique=False)


def downgrade():
    with op.batch_alter_table('similarity_band', schema=None) as batch_op:
        batch_op.drop_index('ix_similarity_band_bucket')

    op.drop_table('similarity_band')
    op.drop_table('similarity_signature')
    with op.batch_alter_table('similarity_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_similarity_link_submission_b_id'))

    op.drop_table('similarity_link')
