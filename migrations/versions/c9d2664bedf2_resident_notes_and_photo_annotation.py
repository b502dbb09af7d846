"""resident notes ("ask") and a photo's drawn annotation

Revision ID: c9d2664bedf2
Revises: c1f91dcc0a6f
Create Date: 2026-12-03 12:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c9d2664bedf2'
down_revision = 'c1f91dcc0a6f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'resident_notes',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('checkpoint_id', sa.Integer(), nullable=False),
        sa.Column('visit_id', sa.String(length=36), nullable=False),
        sa.Column('finding_id', sa.String(length=36), nullable=True),
        sa.Column('recorded_by', sa.Integer(), nullable=False),
        sa.Column('said', sa.Text(), nullable=False),
        sa.Column('consent', sa.Boolean(), nullable=False),
        sa.Column('unit', sa.String(length=64), nullable=False),
        sa.Column('contact', sa.String(length=120), nullable=False),
        sa.Column('observed_at', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], ),
        sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], ),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('resident_notes', schema=None) as batch_op:
        batch_op.create_index('ix_resident_notes_site_observed', ['site_id', 'observed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_notes_checkpoint_id'), ['checkpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_notes_visit_id'), ['visit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_notes_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_notes_month'), ['month'], unique=False)
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('annotation', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_column('annotation')
    with op.batch_alter_table('resident_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_notes_month'))
        batch_op.drop_index(batch_op.f('ix_resident_notes_finding_id'))
        batch_op.drop_index(batch_op.f('ix_resident_notes_visit_id'))
        batch_op.drop_index(batch_op.f('ix_resident_notes_checkpoint_id'))
        batch_op.drop_index('ix_resident_notes_site_observed')
    op.drop_table('resident_notes')
