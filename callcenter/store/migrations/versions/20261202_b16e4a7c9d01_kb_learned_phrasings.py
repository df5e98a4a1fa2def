"""knowledge base: callers' phrasings learned from direct answers (kb_phrasings, kb_entries.learned)

Revision ID: b16e4a7c9d01
Revises: 6969cb17e4e0
Create Date: 2026-12-02 06:30:00

kb_phrasings: a caller's wording proposed for an entry (the operator's search text when they
answered a case with it, or a 直接答复 case's 诉求内容), reviewed by the entry's department.
kb_entries.learned: the published ones, joined by |; their tokens follow the official 常见问法
in tok_phrasings, so the existing FTS5 triggers / generated tsvector index them unchanged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b16e4a7c9d01"
down_revision: str | None = "6969cb17e4e0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("kb_entries", sa.Column("learned", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "kb_phrasings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("norm", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("proposed_by", sa.String(length=100), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["kb_entries.id"], name=op.f("fk_kb_phrasings_entry_id_kb_entries"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_kb_phrasings_ticket_id_tickets"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_phrasings")),
        sa.UniqueConstraint("entry_id", "norm", name="uq_kb_phrasings_entry_norm"),
    )
    op.create_index("ix_kb_phrasings_status", "kb_phrasings", ["status"])


def downgrade() -> None:
    op.drop_index("ix_kb_phrasings_status", table_name="kb_phrasings")
    op.drop_table("kb_phrasings")
    # not batch mode: SQLite's rebuilt table would lose kb_fts's triggers (SQLite ≥ 3.35 drops a column)
    op.execute("ALTER TABLE kb_entries DROP COLUMN learned")
