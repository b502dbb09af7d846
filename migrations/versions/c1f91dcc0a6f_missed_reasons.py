"""missed_reasons: why a planned checkpoint was not visited, given when the round ended

Revision ID: c1f91dcc0a6f
Revises: 9d4e2f6a1c38
Create Date: 2026-12-03 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c1f91dcc0a6f'
down_revision = '9d4e2f6a1c38'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('missed_reasons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('given_at', sa.DateTime(), nullable=False),
    sa.Column('given_at_device', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_missed_reasons_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['plan_id'], ['patrol_plans.id'], name=op.f('fk_missed_reasons_plan_id_patrol_plans'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_missed_reasons_round_id_rounds'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_missed_reasons_site_id_sites'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_missed_reasons_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_missed_reasons')),
    sa.UniqueConstraint('round_id', 'checkpoint_id', name=op.f('uq_missed_reasons_round_id_checkpoint_id'))
    )
    with op.batch_alter_table('missed_reasons', schema=None) as batch_op:
        batch_op.create_index('ix_missed_reasons_plan_given', ['plan_id', 'given_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_missed_reasons_site_id'), ['site_id'], unique=False)


def downgrade():
    with op.batch_alter_table('missed_reasons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_missed_reasons_site_id'))
        batch_op.drop_index('ix_missed_reasons_plan_given')
    op.drop_table('missed_reasons')
