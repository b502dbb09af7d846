"""index findings by checkpoint, item and time (repeat detection of a sync push)

Revision ID: 2d5f0dd5c7f9
Revises: b7e3c91a4f20
Create Date: 2026-12-03 13:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2d5f0dd5c7f9'
down_revision = 'b7e3c91a4f20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index('ix_findings_checkpoint_item_observed', ['checkpoint_id', 'item_id', 'observed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index('ix_findings_checkpoint_item_observed')
