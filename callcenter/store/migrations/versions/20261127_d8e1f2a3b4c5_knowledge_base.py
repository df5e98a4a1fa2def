"""knowledge base (知识库): entries, versions, synonyms, uses; FTS5 (SQLite) / tsvector + GIN (PostgreSQL)

Revision ID: d8e1f2a3b4c5
Revises: d4e5f6a7b8c9
Create Date: 2026-11-27 12:00:00

kb_entries.tok_title / tok_phrasings / tok_answer hold space-joined jieba tokens
(callcenter/kb/search.py). SQLite: the FTS5 table kb_fts indexes them (external content,
triggers keep it in step). PostgreSQL: the generated column tsv (to_tsvector('simple') of the
space-joined tokens, so each jieba word is one lexeme; weights title A, phrasings B, answer D) under a GIN index. The synonym groups start with a few (DOMAIN words, Xiangtan
dialect, frequent miswritings); admins keep them (`hotline kb synonyms`).
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "d8e1f2a3b4c5"
down_revision: str | None = "d4e5f6a7b8c9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SYNONYMS = [
    ("拆迁 征收 拆房", "domain"),
    ("补偿款 拆迁款 赔偿款", "domain"),
    ("物业 物管 物业公司", "domain"),
    ("物业费 管理费", "domain"),
    ("身份证 身份正", "miswriting"),
    ("物业 物叶", "miswriting"),
    ("贷款 代款", "miswriting"),
    ("什么 么子 啥", "dialect"),
    ("没有 冇得 冇 没得", "dialect"),
    ("怎么 哪么 咋 如何", "dialect"),
    ("家里 屋里 家", "dialect"),
    ("孩子 伢子 伢 小孩 小孩子 儿童", "dialect"),
    ("多少 好多", "dialect"),
    ("丢失 搞掉 丢了 遗失 弄丢", "dialect"),
    ("房产证 不动产权证 房本", "domain"),
    ("电车 新能源汽车 电动汽车", "domain"),
    ("退休金 养老金", "domain"),
    ("失业金 失业保险金", "domain"),
    ("营业执照 执照", "domain"),
    ("农村合作医疗 城乡居民医保 新农合", "domain"),
    ("老人 老人家 老年人", "domain"),
    ("赔 赔偿 补偿", "colloquial"),
    ("失火 火灾 着火 起火", "colloquial"),
    ("炒掉 炒鱿鱼 解聘", "colloquial"),
    ("坟 坟墓 祖坟 迁坟", "colloquial"),
    ("挪 迁 迁移", "colloquial"),
    ("没办证 无证 未登记 没有产权证", "colloquial"),
    ("搭 加盖 搭建 违章建筑", "colloquial"),
    ("没水 停水", "colloquial"),
    ("没电 停电", "colloquial"),
]


def upgrade() -> None:
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("phrasings", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=True),
        sa.Column("status", sa.Enum("draft", "in_review", "published", "expired", name="kb_status",
                                    native_enum=False, length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("draft_version", sa.Integer(), nullable=True),
        sa.Column("tok_title", sa.Text(), nullable=False),
        sa.Column("tok_phrasings", sa.Text(), nullable=False),
        sa.Column("tok_answer", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_kb_entries_department_id_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_entries")),
        sa.UniqueConstraint("code", name=op.f("uq_kb_entries_code")),
    )
    op.create_index("ix_kb_entries_valid_until", "kb_entries", ["valid_until"])
    op.create_table(
        "kb_entry_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("phrasings", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source_ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["kb_entries.id"], ondelete="CASCADE",
                                name=op.f("fk_kb_entry_versions_entry_id_kb_entries")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_kb_entry_versions_department_id_departments")),
        sa.ForeignKeyConstraint(["source_ticket_id"], ["tickets.id"],
                                name=op.f("fk_kb_entry_versions_source_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_kb_entry_versions_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_entry_versions")),
        sa.UniqueConstraint("entry_id", "version", name="uq_kb_entry_versions_entry_version"),
    )
    op.create_table(
        "kb_synonyms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("words", sa.String(length=500), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_synonyms")),
    )
    op.create_table(
        "kb_uses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE",
                                name=op.f("fk_kb_uses_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["entry_id"], ["kb_entries.id"], ondelete="CASCADE",
                                name=op.f("fk_kb_uses_entry_id_kb_entries")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_kb_uses_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_uses")),
    )
    op.create_index("ix_kb_uses_entry", "kb_uses", ["entry_id"])
    op.create_index("ix_kb_uses_ticket", "kb_uses", ["ticket_id"])

    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE kb_fts USING fts5(tok_title, tok_phrasings, tok_answer, "
            "content='kb_entries', content_rowid='id', tokenize='unicode61')"
        )
        op.execute(
            "CREATE TRIGGER kb_entries_ai AFTER INSERT ON kb_entries BEGIN "
            "INSERT INTO kb_fts(rowid, tok_title, tok_phrasings, tok_answer) "
            "VALUES (new.id, new.tok_title, new.tok_phrasings, new.tok_answer); END"
        )
        op.execute(
            "CREATE TRIGGER kb_entries_ad AFTER DELETE ON kb_entries BEGIN "
            "INSERT INTO kb_fts(kb_fts, rowid, tok_title, tok_phrasings, tok_answer) "
            "VALUES ('delete', old.id, old.tok_title, old.tok_phrasings, old.tok_answer); END"
        )
        op.execute(
            "CREATE TRIGGER kb_entries_au AFTER UPDATE OF tok_title, tok_phrasings, tok_answer ON kb_entries BEGIN "
            "INSERT INTO kb_fts(kb_fts, rowid, tok_title, tok_phrasings, tok_answer) "
            "VALUES ('delete', old.id, old.tok_title, old.tok_phrasings, old.tok_answer); "
            "INSERT INTO kb_fts(rowid, tok_title, tok_phrasings, tok_answer) "
            "VALUES (new.id, new.tok_title, new.tok_phrasings, new.tok_answer); END"
        )
    else:
        op.execute(
            "ALTER TABLE kb_entries ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', tok_title), 'A') || "
            "setweight(to_tsvector('simple', tok_phrasings), 'B') || "
            "setweight(to_tsvector('simple', tok_answer), 'D')) STORED"
        )
        op.execute("CREATE INDEX ix_kb_entries_tsv ON kb_entries USING gin (tsv)")
        # titles and phrasings alone: most query words are looked up here only (few rows match)
        op.execute(
            "ALTER TABLE kb_entries ADD COLUMN tsv_head tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', tok_title), 'A') || "
            "setweight(to_tsvector('simple', tok_phrasings), 'B')) STORED"
        )
        op.execute("CREATE INDEX ix_kb_entries_tsv_head ON kb_entries USING gin (tsv_head)")

    syn = sa.table("kb_synonyms", sa.column("words", sa.String), sa.column("note", sa.String),
                   sa.column("updated_at", sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # the store keeps naive UTC on SQLite (models.UTCDateTime)
    op.bulk_insert(syn, [{"words": w, "note": n, "updated_at": now} for w, n in SYNONYMS])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for t in ("kb_entries_ai", "kb_entries_ad", "kb_entries_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {t}")
        op.execute("DROP TABLE IF EXISTS kb_fts")
    op.drop_table("kb_uses")
    op.drop_table("kb_synonyms")
    op.drop_table("kb_entry_versions")
    op.drop_table("kb_entries")
