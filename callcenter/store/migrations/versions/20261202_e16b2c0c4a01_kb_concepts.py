"""knowledge base: the entries' thesaurus concepts indexed beside their words (issue 16)

Revision ID: e16b2c0c4a01
Revises: d8e9f0a1b2c3
Create Date: 2026-12-02 11:10:00

kb_entries.con_head / con_body: the 同义词词林 atom and word-group codes of the words of the
title and phrasings, and of the answer (kb_search.entry_concepts, written with the tokens when
an entry is published, imported or its learned phrasings change). PostgreSQL indexes them in
the generated tsvector `csv` (of con_head only — the answers' concepts match too many rows to
choose from; GIN): the concept candidates of a search. con_body is scored on the rows chosen.
Existing entries are filled by `hotline kb reindex` (the store does not import the thesaurus);
until then they are found by their words as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e16b2c0c4a01"
down_revision: str | None = "d8e9f0a1b2c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("kb_entries", sa.Column("con_head", sa.Text(), nullable=False, server_default=""))
    op.add_column("kb_entries", sa.Column("con_body", sa.Text(), nullable=False, server_default=""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE kb_entries ADD COLUMN csv tsvector GENERATED ALWAYS AS ("
            "array_to_tsvector(string_to_array(con_head, ' ', ''))) STORED"
        )
        op.execute("CREATE INDEX ix_kb_entries_csv ON kb_entries USING gin (csv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_kb_entries_csv")
        op.execute("ALTER TABLE kb_entries DROP COLUMN csv")
    # not batch mode: SQLite's rebuilt table would lose kb_fts's triggers (SQLite ≥ 3.35 drops a column)
    op.execute("ALTER TABLE kb_entries DROP COLUMN con_body")
    op.execute("ALTER TABLE kb_entries DROP COLUMN con_head")
