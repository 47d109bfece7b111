"""indexes for a whole term's submissions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 08:00:00.000000

With a term's worth of rows (300 students x 13 homework x 15 submissions: about 60,000
submissions and their runs) the staff's roster, gradebook and dashboard counts and
``/metrics`` read every run's wide row (outcomes, log) to use a few columns of it. Three
covering indexes let Postgres answer them from the index alone (bench/course.py,
``python -m bench --course``):

- ``ix_submissions_assignment_received``: an assignment's submissions in order, with
  their student, lateness and late days;
- ``ix_grading_runs_current_state_score`` (partial, ``WHERE is_current``): each
  submission's current run's state and score;
- ``ix_grading_runs_state_queue``: runs by state and lane, with their failure kind and
  times (``/metrics``; the upload's count of queued runs on its lane).

Downgrading drops them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_submissions_assignment_received",
            ["assignment_id", "received_at", "id", "user_id", "is_late", "late_days"],
            unique=False,
        )
    with op.batch_alter_table("grading_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_grading_runs_current_state_score",
            ["submission_id", "state", "score"],
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.create_index(
            "ix_grading_runs_state_queue",
            ["state", "queue", "failure_kind", "started_at", "finished_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("grading_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_grading_runs_state_queue")
        batch_op.drop_index("ix_grading_runs_current_state_score")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_submissions_assignment_received")
