"""report_call_hours: the hourly traffic rollup capacity planning reads (issue 19)

Revision ID: d19a7c3e5b10
Revises: d15a7c0e1f13
Create Date: 2026-12-02 10:00:00

Built by `reports.traffic_rollup.refresh` (the scheduler's rollup step: its first run builds
it from `calls`, later runs replace the hours whose calls changed). Until it is built the
capacity plan reads `calls` directly, so nothing is filled here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d19a7c3e5b10"
down_revision: str | None = "d15a7c0e1f13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = ("offered", "refused", "answered", "abandoned", "within_15s", "talked")


def upgrade() -> None:
    op.create_table(
        "report_call_hours",
        sa.Column("hour", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in COUNTS),
        sa.Column("talk_sum", sa.Float(), nullable=False),
        sa.Column("acw_n", sa.Integer(), nullable=False),
        sa.Column("acw_sum", sa.Float(), nullable=False),
        sa.Column("wait_answered_sum", sa.Float(), nullable=False),
        sa.Column("patience_n", sa.Integer(), nullable=False),
        sa.Column("wait_abandoned_sum", sa.Float(), nullable=False),
        sa.Column("held_n", sa.Integer(), nullable=False),
        sa.Column("hold_sum", sa.Float(), nullable=False),
        sa.Column("out_hold_sum", sa.Float(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_report_call_hours")),
    )


def downgrade() -> None:
    op.drop_table("report_call_hours")
    op.execute(sa.text("DELETE FROM report_rollup_state WHERE name = 'call_hours'"))
