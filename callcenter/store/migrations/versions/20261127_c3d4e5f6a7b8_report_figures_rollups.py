"""reports: entered disclosure figures, per-day rollups of the metrics, updated_at indexes

Revision ID: c3d4e5f6a7b8
Revises: b7e8f9a0c1d2
Create Date: 2026-11-27 09:00:00

disclosure_figures holds the annual report's figures the hotline data does not hold (entered
per year). report_case_days / report_case_group_days / report_call_days are per-day group
counts that reports/rollup.py refreshes from tickets.updated_at / calls.updated_at beyond a
watermark (report_rollup_state), hence the two updated_at indexes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3d4e5f6a7b8"
down_revision: str | None = "b7e8f9a0c1d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


STATUS = ("registered", "answered", "dispatched", "accepted", "returned", "resolved", "reopened",
          "closed", "merged", "invalid")
CALLBACK_RESULT = ("pending", "reached", "unreachable", "not_needed")
SATISFACTION = ("satisfied", "basically", "dissatisfied")
CALL_OUTCOME = ("in_progress", "answered", "abandoned", "refused", "callback_answered",
                "callback_unanswered", "callback_failed")


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "disclosure_figures",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("report_table", sa.String(length=8), nullable=False),
        sa.Column("row_key", sa.String(length=64), nullable=False),
        sa.Column("column_key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("entered_by", sa.String(length=100), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year", "report_table", "row_key", "column_key", name=op.f("pk_disclosure_figures")),
    )
    op.create_table(
        "report_case_days",
        _id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", _enum("status", *STATUS), nullable=False),
        sa.Column("dispatched", sa.Boolean(), nullable=False),
        sa.Column("callback_result", _enum("callback_result", *CALLBACK_RESULT), nullable=True),
        sa.Column("satisfaction", _enum("satisfaction", *SATISFACTION), nullable=True),
        sa.Column("solved", sa.Boolean(), nullable=True),
        sa.Column("reopened", sa.Boolean(), nullable=False),
        sa.Column("in_time", sa.Boolean(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_case_days")),
    )
    op.create_index("ix_report_case_days_day", "report_case_days", ["day"])
    op.create_table(
        "report_case_group_days",
        _id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("key_text", sa.String(length=200), nullable=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_case_group_days")),
    )
    op.create_index("ix_report_case_group_days_day", "report_case_group_days", ["day"])
    op.create_table(
        "report_call_days",
        _id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("direction", _enum("call_direction", "in", "out"), nullable=False),
        sa.Column("outcome", _enum("call_outcome", *CALL_OUTCOME), nullable=False),
        sa.Column("was_answered", sa.Boolean(), nullable=False),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("has_wait", sa.Boolean(), nullable=False),
        sa.Column("has_talk", sa.Boolean(), nullable=False),
        sa.Column("within_15s", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("wait", sa.Double(), nullable=True),
        sa.Column("talk", sa.Double(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_call_days")),
    )
    op.create_index("ix_report_call_days_day", "report_call_days", ["day"])
    op.create_table(
        "report_rollup_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_rollup_state")),
    )
    # the refresh (and every read) finds the days changed since the watermark through these
    op.create_index("ix_tickets_updated_at", "tickets", ["updated_at"])
    op.create_index("ix_calls_updated_at", "calls", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_updated_at", table_name="calls")
    op.drop_index("ix_tickets_updated_at", table_name="tickets")
    op.drop_table("report_rollup_state")
    op.drop_index("ix_report_call_days_day", table_name="report_call_days")
    op.drop_table("report_call_days")
    op.drop_index("ix_report_case_group_days_day", table_name="report_case_group_days")
    op.drop_table("report_case_group_days")
    op.drop_index("ix_report_case_days_day", table_name="report_case_days")
    op.drop_table("report_case_days")
    op.drop_table("disclosure_figures")
