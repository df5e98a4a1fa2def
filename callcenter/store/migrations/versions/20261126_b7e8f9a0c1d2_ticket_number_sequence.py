"""ticket numbers from a sequence on PostgreSQL (no per-day row lock on the write path)

Revision ID: b7e8f9a0c1d2
Revises: a1b2c3d4e5f6
Create Date: 2026-11-26 20:50:00

On PostgreSQL a case's number is taken inside its own transaction from one sequence:
number in day = nextval - base(day), where base(day) is a sequence value taken before the day's
first case (table ticket_number_days). nextval never blocks, so concurrent registrations do
not queue on a counter row. SQLite keeps the ticket_counters row (it has one writer anyway).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e8f9a0c1d2"
down_revision: str | None = "a1b2c3d4e5f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_number_days",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("base", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_ticket_number_days")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE ticket_number_seq AS bigint START 1")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE ticket_number_seq")
    op.drop_table("ticket_number_days")
