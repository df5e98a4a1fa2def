"""the wall's figures from the rollups: each breakdown key's rates per day, and open cases by deadline

report_case_group_days gains, beside `n` (registered), the counts behind the rates of each
breakdown key (department, category, …): resolved, on_time, callbacks_required,
callbacks_reached, satisfied, overdue_late. The rollups are rebuilt at the next refresh
(watermarks cleared; reads use the base tables meanwhile). A partial index on the open cases
by deadline serves the live count of open cases past their deadline (`overdue_open`).

Revision ID: a9b8c7d6e5f4
Revises: f1a2b3c4d5e6
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a9b8c7d6e5f4"
down_revision: str | None = "f1a2b3c4d5e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = ("resolved", "on_time", "callbacks_required", "callbacks_reached", "satisfied", "overdue_late")
OPEN = "status IN ('registered', 'dispatched', 'accepted', 'returned', 'reopened')"


def upgrade() -> None:
    with op.batch_alter_table("report_case_group_days", schema=None) as batch_op:
        for name in FIGURES:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE report_rollup_state SET watermark = NULL WHERE name = 'cases'")
    op.create_index("ix_tickets_open_due", "tickets", ["due_at", "registered_at", "department_id", "category_id"],
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade() -> None:
    op.drop_index("ix_tickets_open_due", table_name="tickets")
    with op.batch_alter_table("report_case_group_days", schema=None) as batch_op:
        for name in reversed(FIGURES):
            batch_op.drop_column(name)
    op.execute("UPDATE report_rollup_state SET watermark = NULL WHERE name = 'cases'")
