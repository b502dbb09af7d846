"""complaint photos: photos.complaint_id

Revision ID: 5b1c0e7a9d21
Revises: 3ec344fd4a9c
Create Date: 2026-12-03 08:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b1c0e7a9d21'
down_revision = '3ec344fd4a9c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('complaint_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_photos_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_photos_complaint_id_complaints'), 'complaints', ['complaint_id'], ['id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_photos_complaint_id_complaints'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_photos_complaint_id'))
        batch_op.drop_column('complaint_id')
