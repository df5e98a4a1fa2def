"""quality inspection (质检): checklists with weighted and fatal items, inspections of calls

Revision ID: d8e9f0a1b2c3
Revises: d19a7c3e5b10
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d8e9f0a1b2c3"
down_revision: str | None = "d19a7c3e5b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "qa_checklists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_checklists")),
    )
    op.create_table(
        "qa_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("checklist_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("fatal", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["checklist_id"], ["qa_checklists.id"], name=op.f("fk_qa_items_checklist_id_qa_checklists")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_items")),
    )
    op.create_index("ix_qa_items_checklist", "qa_items", ["checklist_id"])
    op.create_table(
        "qa_inspections",
        sa.Column("id", BIG, autoincrement=True, nullable=False),
        sa.Column("call_id", BIG, nullable=False),
        sa.Column("recording_id", BIG, nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("checklist_id", sa.Integer(), nullable=True),
        sa.Column("results", sa.JSON(), nullable=True),
        sa.Column("comments", sa.JSON(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("fatal", sa.Boolean(), nullable=True),
        sa.Column("first_score", sa.Float(), nullable=True),
        sa.Column("scored_by", sa.Integer(), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appeal_text", sa.Text(), nullable=True),
        sa.Column("appealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("picked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_qa_inspections_call_id_calls")),
        sa.ForeignKeyConstraint(["recording_id"], ["recordings.id"], name=op.f("fk_qa_inspections_recording_id_recordings")),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"], name=op.f("fk_qa_inspections_operator_id_users")),
        sa.ForeignKeyConstraint(["checklist_id"], ["qa_checklists.id"], name=op.f("fk_qa_inspections_checklist_id_qa_checklists")),
        sa.ForeignKeyConstraint(["scored_by"], ["users.id"], name=op.f("fk_qa_inspections_scored_by_users")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_qa_inspections_decided_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_inspections")),
        sa.UniqueConstraint("call_id", name="uq_qa_inspections_call"),
    )
    op.create_index("ix_qa_inspections_operator", "qa_inspections", ["operator_id", "state"])
    op.create_index("ix_qa_inspections_week", "qa_inspections", ["week"])
    # teams in the QA figures are seat groups: migration 0c4a11e12345 inserted the default group
    # with an explicit id, which left PostgreSQL's sequence behind (the next group failed on the
    # primary key)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('seat_groups', 'id'), "
                   "GREATEST((SELECT max(id) FROM seat_groups), 1))")


def downgrade() -> None:
    op.drop_index("ix_qa_inspections_week", table_name="qa_inspections")
    op.drop_index("ix_qa_inspections_operator", table_name="qa_inspections")
    op.drop_table("qa_inspections")
    op.drop_index("ix_qa_items_checklist", table_name="qa_items")
    op.drop_table("qa_items")
    op.drop_table("qa_checklists")
