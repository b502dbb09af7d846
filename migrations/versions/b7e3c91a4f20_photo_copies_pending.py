"""photos: copies_pending (display copy and thumbnail made after the upload is answered)

Revision ID: b7e3c91a4f20
Revises: c9d2664bedf2
Create Date: 2026-12-03 12:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e3c91a4f20'
down_revision = 'c9d2664bedf2'
branch_labels = None
depends_on = None


def upgrade():
    # Photos received before this revision already have their copies.
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('copies_pending', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_column('copies_pending')
