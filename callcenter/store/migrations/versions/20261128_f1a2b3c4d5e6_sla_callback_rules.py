"""callback rules per kind on sla_rules (DOMAIN.md 'Deadlines'): attempts, gap, missed-call
deadline, reminder offsets, escalation; server defaults give existing rows DOMAIN.md's values

Revision ID: f1a2b3c4d5e6
Revises: e7f8a9b0c1d2
Create Date: 2026-11-28 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f1a2b3c4d5e6"
down_revision: str | None = "e7f8a9b0c1d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# column → default (DOMAIN.md): 3 attempts, 2 h apart (on another half-day: a rule, not a
# setting), a missed call called back within 1 working hour, reminders 1 working day and
# 2 working hours before a deadline, 督办 5 working days after it
COLUMNS = {
    "callback_max_attempts": 3,
    "callback_attempt_gap_minutes": 120,
    "missed_callback_working_minutes": 60,
    "remind_before_working_days": 1,
    "remind_before_working_minutes": 120,
    "escalate_after_working_days": 5,
}


def upgrade() -> None:
    with op.batch_alter_table("sla_rules", schema=None) as batch_op:
        for name, default in COLUMNS.items():
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default=str(default), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("sla_rules", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
