"""assignment state and origin

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 13:00:00.000000

An assignment is a draft (staff only), published (students see it) or withdrawn (hidden
from students again, its submissions kept), instead of the ``active`` flag, which nothing
ever turned off: every existing assignment is published. ``origin`` says where the current
version came from (a file, an upload, a bundle); ``checked_hash`` the version that passed
the publish checks or was live (every existing current version). Downgrading keeps
published as active.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=16), nullable=False, server_default="published")
        )
        batch_op.add_column(
            sa.Column("origin", sa.String(length=500), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("checked_hash", sa.String(length=64), nullable=True))
    op.execute(sa.text("UPDATE assignments SET state = 'withdrawn' WHERE NOT active"))
    op.execute(sa.text("UPDATE assignments SET checked_hash = spec_hash"))
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("active")


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.execute(sa.text("UPDATE assignments SET active = (state = 'published')"))
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("checked_hash")
        batch_op.drop_column("origin")
        batch_op.drop_column("state")
