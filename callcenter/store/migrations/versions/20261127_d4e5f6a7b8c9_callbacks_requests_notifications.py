"""callbacks: click-to-call requests, deadline notifications, the scheduler's leader lease

Revision ID: d4e5f6a7b8c9
Revises: c3d4e5f6a7b8
Create Date: 2026-11-27 11:00:00

callback_requests carries a click-to-call from the web to the telephony process (the web
never opens AMI) and its outcome back; notifications holds the deadline notices the console
shows, unique by key (kind:subject:due time) so that no scheduler doubles one;
scheduler_leases is the leader lease on SQLite (PostgreSQL leads with an advisory lock).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4e5f6a7b8c9"
down_revision: str | None = "c3d4e5f6a7b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "callback_requests",
        _id(),
        sa.Column("callback_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("seat", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("ticket_ref", sa.String(length=40), nullable=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _ts("requested_at", nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        _ts("claimed_until"),
        _ts("placed_at"),
        sa.Column("call_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("done_at"),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["callback_id"], ["callbacks.id"], name=op.f("fk_callback_requests_callback_id_callbacks")),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"], name=op.f("fk_callback_requests_operator_id_users")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_callback_requests_call_id_calls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
        sa.UniqueConstraint("key", name=op.f("uq_callback_requests_key")),
    )
    op.create_index("ix_callback_requests_status", "callback_requests", ["status", "id"])
    op.create_table(
        "notifications",
        _id(),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("callback_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        _ts("due_at"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        _ts("created_at", nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        _ts("closed_at"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_notifications_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["callback_id"], ["callbacks.id"], name=op.f("fk_notifications_callback_id_callbacks")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], name=op.f("fk_notifications_department_id_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("key", name=op.f("uq_notifications_key")),
    )
    op.create_index("ix_notifications_status_department", "notifications", ["status", "department_id"])
    op.create_index("ix_notifications_ticket", "notifications", ["ticket_id"])
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        _ts("expires_at"),
        _ts("renewed_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_leases")
    op.drop_index("ix_notifications_ticket", table_name="notifications")
    op.drop_index("ix_notifications_status_department", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_callback_requests_status", table_name="callback_requests")
    op.drop_table("callback_requests")
