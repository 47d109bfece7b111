"""superseded runs, worker heartbeats

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 08:00:00.000000

A queued run can now end ``superseded`` (a newer upload of the same student replaced it
before it ran: the spec's ``supersede_queued``), and workers record a heartbeat row that
``/healthz`` reads. Downgrading turns superseded runs into ``failed_infra`` (never graded,
never charged to the quota either, the closest old state) and drops the heartbeats.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = ("queued", "running", "graded", "failed_student", "failed_infra")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # SQLite stores the enum as plain text: nothing to change there.
        op.execute(sa.text("ALTER TYPE run_state ADD VALUE IF NOT EXISTS 'superseded'"))
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", sa.String(length=200), nullable=False),
        sa.Column("sandbox_backend", sa.String(length=32), nullable=False),
        sa.Column("sandbox_status", sa.Text(), nullable=False),
        sa.Column("gpus", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker"),
    )
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_worker_heartbeats_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_heartbeats_seen_at"))
    op.drop_table("worker_heartbeats")
    op.execute(
        sa.text(
            "UPDATE grading_runs SET state = 'failed_infra' "
            "WHERE CAST(state AS TEXT) = 'superseded'"
        )
    )
    if op.get_bind().dialect.name == "postgresql":
        # Postgres cannot drop a value from an enum type: make the old type again.
        states = ", ".join(f"'{s}'" for s in OLD_STATES)
        op.execute(sa.text("ALTER TYPE run_state RENAME TO run_state_0005"))
        op.execute(sa.text(f"CREATE TYPE run_state AS ENUM ({states})"))
        op.execute(
            sa.text(
                "ALTER TABLE grading_runs ALTER COLUMN state TYPE run_state "
                "USING CAST(CAST(state AS TEXT) AS run_state)"
            )
        )
        op.execute(sa.text("DROP TYPE run_state_0005"))
