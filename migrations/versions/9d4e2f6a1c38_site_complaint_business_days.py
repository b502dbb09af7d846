"""sites: complaint deadlines in business days, and the weekend they skip

Revision ID: 9d4e2f6a1c38
Revises: 5b1c0e7a9d21
Create Date: 2026-12-03 08:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d4e2f6a1c38'
down_revision = '5b1c0e7a9d21'
branch_labels = None
depends_on = None


def upgrade():
    # Existing sites keep counting calendar days.
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('complaint_business_days', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('complaint_weekend', sa.String(length=16), nullable=False, server_default='sat_sun'))


def downgrade():
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('complaint_weekend')
        batch_op.drop_column('complaint_business_days')
