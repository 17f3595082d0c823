"""experiments: remedies a channel tries, their one check-in, and its anonymous answers

Revision ID: 0004
Revises: 0003 (workspaces)
Create Date: 2026-12-01 12:00:00

Every new table carries team_id (and enterprise_id on Enterprise Grid): all queries are scoped by
the workspace. checkin_answers is built like pulse_responses after 0002: random keys, no rowid on
SQLite, and a keyed voter hash that is erased when the check-in closes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("announcement_ts", sa.String(length=32), nullable=True),
        sa.Column("cause_id", sa.String(length=40), nullable=False),
        sa.Column("remedy", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("checkin_on", sa.Date(), nullable=False),
        sa.Column("checkin_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_experiments_checkin_at"), "experiments", ["checkin_at"], unique=False)
    op.create_index(op.f("ix_experiments_team_id"), "experiments", ["team_id"], unique=False)
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_ts", sa.String(length=32), nullable=True),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("helped", sa.Integer(), nullable=True),
        sa.Column("partly", sa.Integer(), nullable=True),
        sa.Column("not_yet", sa.Integer(), nullable=True),
        sa.Column("stopped", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("experiment_id", name="uq_checkin_experiment"),
    )
    op.create_index(op.f("ix_checkins_team_id"), "checkins", ["team_id"], unique=False)
    op.create_table(
        "checkin_answers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("voter_hash", sa.String(length=64), nullable=True),
        sa.Column("answer", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["checkin_id"], ["checkins.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("checkin_id", "voter_hash", name="uq_checkin_answer_voter"),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_checkin_answers_checkin_id"), "checkin_answers", ["checkin_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_checkin_answers_checkin_id"), table_name="checkin_answers")
    op.drop_table("checkin_answers")
    op.drop_index(op.f("ix_checkins_team_id"), table_name="checkins")
    op.drop_table("checkins")
    op.drop_index(op.f("ix_experiments_team_id"), table_name="experiments")
    op.drop_index(op.f("ix_experiments_checkin_at"), table_name="experiments")
    op.drop_table("experiments")
