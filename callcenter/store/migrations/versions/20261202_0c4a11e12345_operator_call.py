"""The operator's call (issue 12): idempotency keys, form drafts, 属地 routing, seat groups

1. `idempotency_keys`: one row per (actor, key) — unique — with the request's scope and
   fingerprint and, once answered, the answer (status + JSON body). Two web workers racing on
   one key meet at the unique index; the loser waits for the winner's answer.
2. `form_drafts`: the 来电登记 form as typed, per operator and form (autosaved), dropped by
   the scheduler after a day.
3. `routing_rules.area` (属地: street / township / community the address must name) and
   `departments.areas` (the department's area names and aliases, separated by spaces/commas).
4. `calls.acw_s`: the after-call work (话后整理) that followed the call, in seconds.
5. `seat_groups`: per queue (技能组) the maximum after-call work (话后整理) in seconds; a
   `default` row (60 s) for every queue without its own.

Revision ID: 0c4a11e12345
Revises: c4d5e6f7a8b9
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0c4a11e12345"
down_revision: str | None = "c4d5e6f7a8b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("actor_id", "key", name="uq_idempotency_keys_actor_key"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_table(
        "form_drafts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("form_key", sa.String(100), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "form_key", name="uq_form_drafts_user_form"),
    )
    op.create_index("ix_form_drafts_updated_at", "form_drafts", ["updated_at"])
    with op.batch_alter_table("routing_rules") as b:
        b.add_column(sa.Column("area", sa.String(100), nullable=True))
    with op.batch_alter_table("departments") as b:
        b.add_column(sa.Column("areas", sa.String(500), nullable=True))
    with op.batch_alter_table("calls") as b:
        b.add_column(sa.Column("acw_s", sa.Integer(), nullable=True))
    t = op.create_table(
        "seat_groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("queue", sa.String(40), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("acw_max_s", sa.Integer(), nullable=False, server_default="60"),
    )
    op.bulk_insert(t, [{"id": 1, "queue": "default", "name": "默认技能组", "acw_max_s": 60}])


def downgrade() -> None:
    op.drop_table("seat_groups")
    with op.batch_alter_table("calls") as b:
        b.drop_column("acw_s")
    with op.batch_alter_table("departments") as b:
        b.drop_column("areas")
    with op.batch_alter_table("routing_rules") as b:
        b.drop_column("area")
    op.drop_index("ix_form_drafts_updated_at", table_name="form_drafts")
    op.drop_table("form_drafts")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
