"""re-grade batches, current runs, release settings, spec uploads

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 08:00:00.000000

A submission may now have several runs of the same spec version (one per re-grade), so
the unique (submission_id, spec_hash) goes; instead exactly one run per submission is
current (a partial unique index). Existing runs, one per submission, become current.
Downgrading deletes every run that is not current, then restores the old constraint.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_UNIQUE = "grading_runs_submission_id_spec_hash_key"  # Postgres's name for 0001's
# SQLite reflects 0001's constraint without a name: this convention names it for batch mode.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s_%(column_1_name)s"}


def _old_unique_name() -> str:
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints("grading_runs"):
        if constraint["column_names"] == ["submission_id", "spec_hash"]:
            return constraint["name"] or "uq_grading_runs_submission_id_spec_hash"
    raise RuntimeError("grading_runs has no unique (submission_id, spec_hash) to replace")


def upgrade() -> None:
    op.create_table(
        "regrade_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("auto_apply", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("regrade_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_regrade_batches_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_regrade_batches_state"), ["state"], unique=False)

    op.create_table(
        "release_settings",
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("scores_mode", sa.String(length=16), nullable=False),
        sa.Column("scores_released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_mode", sa.String(length=16), nullable=False),
        sa.Column("feedback_released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"]),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("assignment_id"),
    )
    op.create_table(
        "spec_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"]),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("spec_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spec_uploads_assignment_id"), ["assignment_id"], unique=False
        )

    old_unique = _old_unique_name()
    with op.batch_alter_table("grading_runs", schema=None, naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(old_unique, type_="unique")
        batch_op.add_column(sa.Column("batch_id", sa.Integer(), nullable=True))
        # Every existing run is its submission's only one: it is the current run.
        batch_op.add_column(
            sa.Column("is_current", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.create_foreign_key(
            "fk_grading_runs_batch_id_regrade_batches", "regrade_batches", ["batch_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_grading_runs_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            "uq_grading_runs_one_current",
            ["submission_id"],
            unique=True,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )


def downgrade() -> None:
    # The old constraint allows one run per (submission, spec version): keep the current ones.
    op.execute(sa.text("DELETE FROM grading_runs WHERE NOT is_current"))
    with op.batch_alter_table("grading_runs", schema=None) as batch_op:
        batch_op.drop_index("uq_grading_runs_one_current")
        batch_op.drop_index(batch_op.f("ix_grading_runs_batch_id"))
        batch_op.drop_constraint("fk_grading_runs_batch_id_regrade_batches", type_="foreignkey")
        batch_op.drop_column("is_current")
        batch_op.drop_column("batch_id")
        batch_op.create_unique_constraint(OLD_UNIQUE, ["submission_id", "spec_hash"])

    with op.batch_alter_table("spec_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spec_uploads_assignment_id"))
    op.drop_table("spec_uploads")
    op.drop_table("release_settings")
    with op.batch_alter_table("regrade_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regrade_batches_state"))
        batch_op.drop_index(batch_op.f("ix_regrade_batches_assignment_id"))
    op.drop_table("regrade_batches")
