"""reports, frozen versions, ministry responses and export jobs

Revision ID: 708192a3b408
Revises: 4d5e6f7a8b05
Create Date: 2026-11-28 18:24:45.713917

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '708192a3b408'
down_revision = '4d5e6f7a8b05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('export_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('file_format', sa.String(length=8), nullable=False),
    sa.Column('query', sa.String(length=1000), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'done', 'failed', name='status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=True),
    sa.Column('stored_name', sa.String(length=100), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_export_job_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_job'))
    )
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_job_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_job_user_id'), ['user_id'], unique=False)

    op.create_table('report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('period_label', sa.String(length=60), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('issuer', sa.String(length=100), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_report_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_report_created_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report'))
    )
    op.create_table('report_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('consolidated_id', sa.Integer(), nullable=True),
    sa.Column('wording', sa.JSON(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('(submission_id IS NULL) <> (consolidated_id IS NULL)', name=op.f('ck_report_item_one_source')),
    sa.ForeignKeyConstraint(['added_by_id'], ['user.id'], name=op.f('fk_report_item_added_by_id_user')),
    sa.ForeignKeyConstraint(['consolidated_id'], ['consolidated_suggestion.id'], name=op.f('fk_report_item_consolidated_id_consolidated_suggestion')),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_report_item_report_id_report'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_report_item_submission_id_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_item')),
    sa.UniqueConstraint('report_id', 'consolidated_id', name=op.f('uq_report_item_report_id_consolidated_id')),
    sa.UniqueConstraint('report_id', 'submission_id', name=op.f('uq_report_item_report_id_submission_id'))
    )
    with op.batch_alter_table('report_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_item_consolidated_id'), ['consolidated_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_item_submission_id'), ['submission_id'], unique=False)

    op.create_table('report_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('frozen_by_id', sa.Integer(), nullable=False),
    sa.Column('frozen_at', sa.DateTime(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('workbook', sa.LargeBinary(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=True),
    sa.Column('sent_channel', sa.String(length=60), nullable=True),
    sa.Column('document_number', sa.String(length=60), nullable=True),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['frozen_by_id'], ['user.id'], name=op.f('fk_report_version_frozen_by_id_user')),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_report_version_report_id_report')),
    sa.ForeignKeyConstraint(['sent_by_id'], ['user.id'], name=op.f('fk_report_version_sent_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_version')),
    sa.UniqueConstraint('report_id', 'number', name=op.f('uq_report_version_report_id_number'))
    )
    op.create_table('ministry_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=20), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('consolidated_id', sa.Integer(), nullable=True),
    sa.Column('verdict', sa.Enum('adopted', 'partly', 'studying', 'declined', name='verdict', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('responded_on', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['consolidated_id'], ['consolidated_suggestion.id'], name=op.f('fk_ministry_response_consolidated_id_consolidated_suggestion')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_ministry_response_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_ministry_response_submission_id_submission')),
    sa.ForeignKeyConstraint(['version_id'], ['report_version.id'], name=op.f('fk_ministry_response_version_id_report_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ministry_response')),
    sa.UniqueConstraint('version_id', 'item_key', name=op.f('uq_ministry_response_version_id_item_key'))
    )
    with op.batch_alter_table('ministry_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ministry_response_consolidated_id'), ['consolidated_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ministry_response_submission_id'), ['submission_id'], unique=False)



def downgrade():
    with op.batch_alter_table('ministry_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ministry_response_submission_id'))
        batch_op.drop_index(batch_op.f('ix_ministry_response_consolidated_id'))

    op.drop_table('ministry_response')
    op.drop_table('report_version')
    with op.batch_alter_table('report_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_item_submission_id'))
        batch_op.drop_index(batch_op.f('ix_report_item_consolidated_id'))

    op.drop_table('report_item')
    op.drop_table('report')
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_job_user_id'))
        batch_op.drop_index(batch_op.f('ix_export_job_created_at'))

    op.drop_table('export_job')
