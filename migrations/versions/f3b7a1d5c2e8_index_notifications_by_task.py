"""index notifications by task: a decided extension's request notices are found by their task

Deciding an extension marks its request notices read for every manager they went to
(notifications.settle); without this index that was a scan of the whole feed table. The
purge of a month's tasks, whose notices go with them (ON DELETE CASCADE), uses it too.

Revision ID: f3b7a1d5c2e8
Revises: e4a8c2d91b37
Create Date: 2026-12-06 10:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f3b7a1d5c2e8'
down_revision = 'e4a8c2d91b37'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_task_id'), ['task_id'], unique=False)


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_task_id'))
