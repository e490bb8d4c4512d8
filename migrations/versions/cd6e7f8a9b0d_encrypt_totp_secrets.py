"""crypto: encrypt the stored TOTP secrets with the field keys (AES-256-GCM)

Revision ID: cd6e7f8a9b0d
Revises: ab4c5d6e7f0b
Create Date: 2026-11-28 21:30:00.000000

A data migration only: user.mfa_secret stays VARCHAR(255), which holds the ciphertext of a
32-character secret (about 90 characters). The keys are the application's own: the migration
runs inside the app (`flask db upgrade`), so it encrypts with FEEDBACK_FIELD_KEYS as configured
for the app — set them before upgrading (production refuses to start without them). Outside
production the key is derived from SECRET_KEY, exactly as at run time. See docs/deploy.md.
"""
from alembic import op
from flask import current_app

from feedback.crypto import cipher_for, reencrypt_all


# revision identifiers, used by Alembic.
revision = 'cd6e7f8a9b0d'
down_revision = 'ab4c5d6e7f0b'
branch_labels = None
depends_on = None


def upgrade():
    reencrypt_all(op.get_bind(), cipher_for(current_app))


def downgrade():
    reencrypt_all(op.get_bind(), cipher_for(current_app), decrypt=True)
