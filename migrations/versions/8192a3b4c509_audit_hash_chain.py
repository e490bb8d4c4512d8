"""audit trail: hash chain, actor role/organisation and request id, purge anchors, append-only

Revision ID: 8192a3b4c509
Revises: 708192a3b408
Create Date: 2026-11-28 18:45:00.000000

Existing records are chained in id order, so `audit-verify` passes on an upgraded database. The
canonical form below is a frozen copy of feedback/audit/chain.py (version 1): migrations import no
application code, and this one must hash exactly as it did when it ran.

Append-only is enforced by triggers, which autogenerate neither sees nor compares. On SQLite a
batch-mode migration that recreates audit_record or audit_anchor drops their triggers: such a
migration must call create_triggers() again (import it from this module's text, or copy it).
"""
from datetime import timezone
import hashlib
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8192a3b4c509'
down_revision = '708192a3b408'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
# Rows younger than this can never be deleted, whatever the application asks (SECURITY.md row 36).
RETENTION_FLOOR_DAYS = 184
HASHED = ("at", "actor_id", "actor_email", "actor_roles", "actor_org_id", "action",
          "object_type", "object_id", "outcome", "ip", "request_id", "detail")


def _hash(prev_hash, values):
    at = values["at"]
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    data = {name: values[name] for name in HASHED}
    data["at"] = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data["v"] = 1
    body = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record
    BEGIN SELECT RAISE(ABORT, 'audit_record is append-only'); END""",
    # The one deletion allowed: the retention purge, which first records an anchor covering the
    # row, and only for rows past the legal floor.
    f"""CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record
    WHEN NOT (OLD.at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-{RETENTION_FLOOR_DAYS} days')
              AND EXISTS (SELECT 1 FROM audit_anchor WHERE last_id >= OLD.id))
    BEGIN SELECT RAISE(ABORT, 'audit_record is append-only: only audit-purge may delete'); END""",
    """CREATE TRIGGER audit_anchor_no_update BEFORE UPDATE ON audit_anchor
    BEGIN SELECT RAISE(ABORT, 'audit_anchor is append-only'); END""",
    """CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_anchor
    BEGIN SELECT RAISE(ABORT, 'audit_anchor is append-only'); END""",
)

POSTGRES_TRIGGERS = (
    f"""CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_record'
           AND OLD.at < (now() AT TIME ZONE 'UTC') - interval '{RETENTION_FLOOR_DAYS} days'
           AND EXISTS (SELECT 1 FROM audit_anchor WHERE last_id >= OLD.id) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION '% on % refused: the audit trail is append-only', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record
    FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
    """CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
    """CREATE TRIGGER audit_anchor_append_only BEFORE UPDATE OR DELETE ON audit_anchor
    FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
    """CREATE TRIGGER audit_anchor_no_truncate BEFORE TRUNCATE ON audit_anchor
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
)


def create_triggers():
    statements = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGERS
    for statement in statements:
        op.execute(statement)


def drop_triggers():
    if op.get_bind().dialect.name == "sqlite":
        for name in ("audit_record_no_update", "audit_record_no_delete",
                     "audit_anchor_no_update", "audit_anchor_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP FUNCTION IF EXISTS audit_append_only() CASCADE")


def _chain_existing_rows():
    record = sa.table(
        "audit_record",
        sa.column("id", sa.Integer), sa.column("at", sa.DateTime),
        sa.column("actor_id", sa.Integer), sa.column("actor_email", sa.String),
        sa.column("actor_roles", sa.String), sa.column("actor_org_id", sa.Integer),
        sa.column("action", sa.String), sa.column("object_type", sa.String),
        sa.column("object_id", sa.String), sa.column("outcome", sa.String),
        sa.column("ip", sa.String), sa.column("request_id", sa.String),
        sa.column("detail", sa.Text), sa.column("prev_hash", sa.String), sa.column("hash", sa.String),
    )
    bind = op.get_bind()
    previous = GENESIS
    after = 0
    while True:
        rows = bind.execute(
            sa.select(record).where(record.c.id > after).order_by(record.c.id).limit(1000)
        ).mappings().all()
        if not rows:
            break
        for row in rows:
            digest = _hash(previous, row)
            bind.execute(
                record.update().where(record.c.id == row["id"])
                .values(prev_hash=previous, hash=digest)
            )
            previous = digest
        after = rows[-1]["id"]


def upgrade():
    op.create_table('audit_anchor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('purged_before', sa.DateTime(), nullable=False),
    sa.Column('purged_count', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_anchor'))
    )
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_roles', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('actor_org_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('request_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    _chain_existing_rows()

    # AUTOINCREMENT on SQLite: ids are never reused, even after a purge empties the table (a
    # reused id would fall inside the range an anchor says was purged).
    with op.batch_alter_table(
        'audit_record', schema=None, recreate='auto', table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_record_prev_hash'), ['prev_hash'])

    # After the batch operations: recreating the table on SQLite would drop triggers.
    create_triggers()


def downgrade():
    drop_triggers()
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_record_prev_hash'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('request_id')
        batch_op.drop_column('actor_org_id')
        batch_op.drop_column('actor_roles')

    op.drop_table('audit_anchor')
