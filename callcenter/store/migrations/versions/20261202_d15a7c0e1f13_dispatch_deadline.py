"""issue 13: the dispatch deadline (待派) as a rule of its own

`sla_rules.dispatch_working_days`: a registered case is dispatched by the end of working hours
of its n-th working day (DOMAIN.md: "dispatch after registration — the same day": 0, the same
working day; a case registered after the day's working hours or on a rest day counts from the
next working day). The 待派 and 退单待审核 countdowns read it.

Revision ID: d15a7c0e1f13
Revises: b1c2d3e4f5a6
Create Date: 2026-12-02 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d15a7c0e1f13"
down_revision: str | None = "b1c2d3e4f5a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sla_rules") as b:
        b.add_column(sa.Column("dispatch_working_days", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sla_rules") as b:
        b.drop_column("dispatch_working_days")
