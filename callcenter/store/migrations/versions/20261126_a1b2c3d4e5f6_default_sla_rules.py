"""default deadline rules per kind (DOMAIN.md 'Deadlines'); data only

Revision ID: a1b2c3d4e5f6
Revises: 57c1b5c412c8
Create Date: 2026-11-26 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1b2c3d4e5f6"
down_revision: str | None = "57c1b5c412c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# kind → (resolve, urgent resolve, max extension) in working days. 民众诉求 5 (urgent 1),
# dispatched 政策咨询 3, 干部举报/建议意见 15, 依申请公开 20 with one extension of at most 20.
DEFAULTS = {
    "complaint": (5, 1, 10),
    "consultation": (3, 1, 10),
    "report": (15, 5, 10),
    "suggestion": (15, 5, 10),
    "help": (5, 1, 10),
    "praise": (5, 5, 10),
    "disclosure": (20, 20, 20),
}

sla = sa.table(
    "sla_rules",
    sa.column("kind", sa.String),
    sa.column("resolve_working_days", sa.Integer),
    sa.column("urgent_resolve_working_days", sa.Integer),
    sa.column("max_extension_working_days", sa.Integer),
    sa.column("accept_working_minutes", sa.Integer),
    sa.column("urgent_accept_working_minutes", sa.Integer),
    sa.column("return_working_days", sa.Integer),
    sa.column("callback_working_days", sa.Integer),
)


def upgrade() -> None:
    op.bulk_insert(
        sla,
        [
            {
                "kind": k,
                "resolve_working_days": d,
                "urgent_resolve_working_days": u,
                "max_extension_working_days": x,
                "accept_working_minutes": 120,
                "urgent_accept_working_minutes": 30,
                "return_working_days": 2,
                "callback_working_days": 1,
            }
            for k, (d, u, x) in DEFAULTS.items()
        ],
    )


def downgrade() -> None:
    op.execute(sla.delete())
