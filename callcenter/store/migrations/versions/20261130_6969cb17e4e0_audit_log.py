"""audit_log (the admin's changes, append-only), ticket_events made append-only by the database

1. `audit_log`: one row per admin change (users, roles, departments, categories, routing rules,
   seats, sla_rules) and per registry export — when, who (user id, name and role at the time),
   what (`action`, e.g. user.create, sla.update), on what (target type + id or key, and its
   label then), the values old → new (`changes`, JSON; never a password or its hash), and the
   request id and client address of a web change. Indexed by time and by target.
   The SLA form's stop-gap entries (notifications rows, audience "admin", status "audit") are
   moved into it and deleted from notifications.

2. Append-only, enforced by the database for `audit_log` and `ticket_events` (the case trail):
   - PostgreSQL: a row-level BEFORE UPDATE OR DELETE trigger on each table calls
     hotline_append_only(), which raises SQLSTATE 23001 (restrict_violation: an IntegrityError
     for SQLAlchemy). TRUNCATE fires no row-level trigger, so the test set-up (conftest
     `_truncate`) and the benches still empty the tables with TRUNCATE; no statement-level
     TRUNCATE trigger is added (emptying a whole store is an operator's act, not an edit).
   - SQLite: BEFORE UPDATE and BEFORE DELETE triggers doing RAISE(ABORT, ...) (SQLITE_CONSTRAINT:
     an IntegrityError too). There is no exemption — no pragma or setting switches them off.
     SQLite has no TRUNCATE, and a DELETE of every row fires the trigger per row, so an SQLite
     store is emptied by replacing its file: the tests copy a freshly migrated template file
     for each test (conftest `database`, `sqlite_database`), which needs no DELETE at all. A
     DELETE on an empty table fires nothing, so set-up code that deletes from these tables
     while they are empty still works.
   Caveat for later migrations: Alembic's batch mode on SQLite rebuilds a table (copy, drop,
   rename) and the rebuilt table has no triggers — a batch_alter_table on either table must
   create the triggers again (the append-only tests fail otherwise).
   A database superuser can still drop or disable a trigger: this protects the trail from
   the application and its mistakes, not from the database's owner.

3. A partial index on ticket_events for the identity views (action = 'view'), by time: the
   list of who viewed a confidential case's identity across cases reads only those rows.

Downgrade drops the table, the triggers and the index (the audit entries are lost with it).

Revision ID: 6969cb17e4e0
Revises: a9b8c7d6e5f4
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6969cb17e4e0"
down_revision: str | None = "a9b8c7d6e5f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("audit_log", "ticket_events")
VIEWS = "action = 'view'"
# the stop-gap entries of the SLA form (callcenter/people/admin.py before this revision)
KIND_LABELS = {"complaint": "民众诉求", "consultation": "政策咨询", "report": "干部举报", "suggestion": "建议意见",
               "help": "求助", "praise": "表扬", "disclosure": "依申请公开"}


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("actor_role", sa.String(length=24), nullable=True),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("target_label", sa.String(length=200), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(length=32), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"])
    op.create_index("ix_ticket_events_views", "ticket_events", ["at", "id"],
                    postgresql_where=sa.text(VIEWS), sqlite_where=sa.text(VIEWS))
    _move_stopgap_entries()

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION hotline_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$""")
        for t in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       "FOR EACH ROW EXECUTE FUNCTION hotline_append_only()")
    else:
        for t in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {t}_no_{verb.lower()} BEFORE {verb} ON {t} "
                           f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: {verb} refused'); END")


def _move_stopgap_entries() -> None:
    bind = op.get_bind()
    notes = sa.table("notifications", sa.column("id", sa.Integer()), sa.column("kind", sa.String()),
                     sa.column("audience", sa.String()), sa.column("status", sa.String()),
                     sa.column("data", sa.JSON()), sa.column("created_at", sa.DateTime(timezone=True)))
    audit = sa.table("audit_log", sa.column("at", sa.DateTime(timezone=True)), sa.column("actor_id", sa.Integer()),
                     sa.column("actor_name", sa.String()), sa.column("actor_role", sa.String()),
                     sa.column("action", sa.String()), sa.column("target_type", sa.String()),
                     sa.column("target_id", sa.String()), sa.column("target_label", sa.String()),
                     sa.column("changes", sa.JSON()))
    stopgap = sa.and_(notes.c.kind == "sla_rule_changed", notes.c.audience == "admin", notes.c.status == "audit")
    rows = bind.execute(sa.select(notes.c.data, notes.c.created_at).where(stopgap).order_by(notes.c.id)).all()
    entries = []
    for data, at in rows:
        data = data or {}
        old, new = data.get("old") or {}, data.get("new") or {}
        entries.append({
            "at": at, "actor_id": data.get("actor_id"), "actor_name": data.get("actor") or "?",
            "actor_role": data.get("role"), "action": "sla.update", "target_type": "sla_rule",
            "target_id": data.get("kind"), "target_label": KIND_LABELS.get(data.get("kind") or "", data.get("kind")),
            "changes": {k: [old.get(k), v] for k, v in new.items()},
        })
    if entries:
        bind.execute(sa.insert(audit), entries)
        bind.execute(sa.delete(notes).where(stopgap))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for t in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
        op.execute("DROP FUNCTION IF EXISTS hotline_append_only()")
    else:
        for t in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {t}_no_{verb}")
    op.drop_index("ix_ticket_events_views", table_name="ticket_events")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
