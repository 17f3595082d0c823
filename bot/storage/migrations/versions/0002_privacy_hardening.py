"""privacy hardening: pulse answers without order, "Helpful" once per person

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 10:00:00

- pulse_responses: autoincrement ids kept the order in which people first answered. The table is
  rebuilt with random hex keys (and WITHOUT ROWID on SQLite, whose hidden rowid would count up the
  same way); existing answers are copied in random order with fresh keys.
- helpful_votes: keyed hashes of (reply, user), so "Helpful" counts once per person per reply.
- diagnosis_events.channel_id: NULL for DMs and the private shortcut, where a channel id narrows
  down who asked; existing rows of that kind lose theirs.
"""

import random
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWER_FIELDS = ("poll_id", "voter_hash", "side", "score", "cause")


def _answers() -> list[dict]:
    table = sa.table("pulse_responses", *(sa.column(name) for name in ANSWER_FIELDS))
    rows = [dict(row._mapping) for row in op.get_bind().execute(sa.select(table))]
    random.SystemRandom().shuffle(rows)
    return rows


def _create_answers(id_column: sa.Column, **table_options) -> sa.Table:
    table = op.create_table(
        "pulse_responses",
        id_column,
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("voter_hash", sa.String(length=64), nullable=True),
        sa.Column("side", sa.String(length=12), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("cause", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["poll_id"], ["pulse_polls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("poll_id", "voter_hash", name="uq_response_poll_voter"),
        **table_options,
    )
    op.create_index(op.f("ix_pulse_responses_poll_id"), "pulse_responses", ["poll_id"], unique=False)
    return table


def upgrade() -> None:
    rows = _answers()
    op.drop_index(op.f("ix_pulse_responses_poll_id"), table_name="pulse_responses")
    op.drop_table("pulse_responses")
    table = _create_answers(sa.Column("id", sa.String(length=32), nullable=False), sqlite_with_rowid=False)
    if rows:
        op.bulk_insert(table, [{"id": secrets.token_hex(16), **row} for row in rows])

    op.create_table(
        "helpful_votes",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        sqlite_with_rowid=False,
    )

    with op.batch_alter_table("diagnosis_events", schema=None) as batch_op:
        batch_op.alter_column("channel_id", existing_type=sa.String(length=32), nullable=True)
    events = sa.table("diagnosis_events", sa.column("channel_id"), sa.column("surface"))
    op.execute(
        events.update()
        .where(
            sa.or_(
                events.c.surface == "shortcut",
                events.c.channel_id.like("D%"),
                events.c.channel_id == "",
            )
        )
        .values(channel_id=None)
    )


def downgrade() -> None:
    events = sa.table("diagnosis_events", sa.column("channel_id"))
    op.execute(events.update().where(events.c.channel_id.is_(None)).values(channel_id=""))
    with op.batch_alter_table("diagnosis_events", schema=None) as batch_op:
        batch_op.alter_column("channel_id", existing_type=sa.String(length=32), nullable=False)
    op.drop_table("helpful_votes")
    rows = _answers()
    op.drop_index(op.f("ix_pulse_responses_poll_id"), table_name="pulse_responses")
    op.drop_table("pulse_responses")
    table = _create_answers(sa.Column("id", sa.Integer(), nullable=False))
    if rows:
        op.bulk_insert(table, [{"id": n, **row} for n, row in enumerate(rows, start=1)])
