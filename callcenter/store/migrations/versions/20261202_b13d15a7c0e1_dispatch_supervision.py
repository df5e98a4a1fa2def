"""issue 13: satisfaction of the first reached callback, 催办 counts, 回访话术 per kind

1. `tickets.first_satisfaction`: the answer of the case's *first* reached callback (满意率,
   DOMAIN.md); `tickets.satisfaction` stays the latest reached one (最终满意率) and is no longer
   cleared when a reopened case is resolved again. Both are filled from the callback rows of
   existing cases (done case callbacks in completion order); a case without callback rows (an
   import: one callback a row) keeps its satisfaction as both.
2. `tickets.chase_count`: 催办 — how often the citizen called again about the open case.
3. `report_case_days.first_satisfaction`, `report_case_days.chases` and
   `report_case_group_days.rated`: the rollups keep the new atoms (rebuilt at the next refresh:
   the watermark is reset).
4. `sla_rules.callback_script`: the 回访话术 the operator reads while dialling, per kind.

Revision ID: b13d15a7c0e1
Revises: b16e4a7c9d01
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b13d15a7c0e1"
down_revision: str | None = "b16e4a7c9d01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SATISFACTION = ("satisfied", "basically", "dissatisfied")


def _sat() -> sa.Enum:
    return sa.Enum(*SATISFACTION, name="satisfaction", native_enum=False, length=24, create_constraint=False)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as b:
        b.add_column(sa.Column("first_satisfaction", _sat(), nullable=True))
        b.add_column(sa.Column("chase_count", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("report_case_days") as b:
        b.add_column(sa.Column("first_satisfaction", _sat(), nullable=True))
        b.add_column(sa.Column("chases", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("report_case_group_days") as b:
        b.add_column(sa.Column("rated", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("sla_rules") as b:
        b.add_column(sa.Column("callback_script", sa.Text(), nullable=True))

    bind = op.get_bind()
    # the first and the latest reached callback of each case, from its callback rows
    rows = bind.execute(sa.text(
        "SELECT ticket_id, satisfaction FROM callbacks WHERE kind = 'case' AND status = 'done' "
        "AND satisfaction IS NOT NULL AND ticket_id IS NOT NULL ORDER BY ticket_id, completed_at, id")).all()
    first: dict[int, str] = {}
    last: dict[int, str] = {}
    for tid, sat in rows:
        first.setdefault(tid, sat)
        last[tid] = sat
    for tid, sat in first.items():
        bind.execute(sa.text("UPDATE tickets SET first_satisfaction = :f, satisfaction = :l WHERE id = :i"),
                     {"f": sat, "l": last[tid], "i": tid})
    bind.execute(sa.text("UPDATE tickets SET first_satisfaction = satisfaction "
                         "WHERE first_satisfaction IS NULL AND satisfaction IS NOT NULL"))
    # the rollups have new columns: rebuilt from scratch at the next refresh
    bind.execute(sa.text("UPDATE report_rollup_state SET watermark = NULL WHERE name = 'cases'"))


def downgrade() -> None:
    with op.batch_alter_table("sla_rules") as b:
        b.drop_column("callback_script")
    with op.batch_alter_table("report_case_group_days") as b:
        b.drop_column("rated")
    with op.batch_alter_table("report_case_days") as b:
        b.drop_column("chases")
        b.drop_column("first_satisfaction")
    with op.batch_alter_table("tickets") as b:
        b.drop_column("chase_count")
        b.drop_column("first_satisfaction")
