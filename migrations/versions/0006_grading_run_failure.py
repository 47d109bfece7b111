"""grading run failure

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 12:40:00.000000

A failed run keeps its failure whole -- code, values, detail (autograder/grading/failures.py)
-- so that its message can be rendered again in another language. ``failure_kind`` and
``failure_message`` stay: the code and the English message, which queries and metrics read.
Older runs have none (their stored message is shown as it is).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("grading_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grading_runs", schema=None) as batch_op:
        batch_op.drop_column("failure")
