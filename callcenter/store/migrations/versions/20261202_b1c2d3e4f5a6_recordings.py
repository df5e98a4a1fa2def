"""recordings (录音): one row per call recording, retention per kind, legal holds on cases

Revision ID: b1c2d3e4f5a6
Revises: 0c4a11e12345
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1c2d3e4f5a6"
down_revision: str | None = "0c4a11e12345"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# default 2 years; 干部举报 (kind `report`) 10 years
DEFAULT_RETENTION = [("*", 730), ("report", 3650)]


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("pbx", sa.String(length=40), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("ticket_ref", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_recordings_call_id_calls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("pbx", "linkedid", name="uq_recordings_pbx_linkedid"),
    )
    op.create_index("ix_recordings_call", "recordings", ["call_id"])
    op.create_index("ix_recordings_ticket_ref", "recordings", ["ticket_ref"])
    op.create_index("ix_recordings_state_started", "recordings", ["state", "started_at"])
    retention = op.create_table(
        "recording_retention",
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_recording_retention")),
    )
    op.bulk_insert(retention, [{"kind": k, "days": d} for k, d in DEFAULT_RETENTION])
    op.create_table(
        "legal_holds",
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_legal_holds_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_legal_holds")),
    )


def downgrade() -> None:
    op.drop_table("legal_holds")
    op.drop_table("recording_retention")
    op.drop_index("ix_recordings_state_started", table_name="recordings")
    op.drop_index("ix_recordings_ticket_ref", table_name="recordings")
    op.drop_index("ix_recordings_call", table_name="recordings")
    op.drop_table("recordings")
