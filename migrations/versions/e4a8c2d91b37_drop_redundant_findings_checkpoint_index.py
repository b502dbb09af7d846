"""drop ix_findings_checkpoint_id: ix_findings_checkpoint_item_observed begins with the same column

Every look-up by checkpoint (the repeat check, a checkpoint's findings, the foreign key
from checkpoints) uses the composite index; the single-column one was only a second
index to keep up on every finding a push writes.

Revision ID: e4a8c2d91b37
Revises: 2d5f0dd5c7f9
Create Date: 2026-12-04 22:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e4a8c2d91b37'
down_revision = '2d5f0dd5c7f9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index('ix_findings_checkpoint_id')


def downgrade():
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index('ix_findings_checkpoint_id', ['checkpoint_id'], unique=False)
