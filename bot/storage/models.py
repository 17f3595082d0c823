"""Tables. What is deliberately absent matters as much: no message text except user-submitted
corrections, and no Slack user id next to any pulse answer."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def random_id() -> str:
    """A key that says nothing about when its row was written."""
    return secrets.token_hex(16)


class Base(DeclarativeBase):
    pass


class WorkspaceOwned:
    """A row that belongs to one workspace: its team id (and enterprise id on Enterprise Grid). Every
    query of such a table is scoped to one workspace (bot/storage/workspace.py)."""

    team_id: Mapped[str] = mapped_column(String(32), default="")
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)


# slack_sdk's own installation and OAuth-state tables (SQLAlchemyInstallationStore,
# SQLAlchemyOAuthStateStore), declared on our metadata so that Alembic creates them with the rest.
INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, SQLAlchemyInstallationStore.default_installations_table_name
)
BOTS = SQLAlchemyInstallationStore.build_bots_table(
    Base.metadata, SQLAlchemyInstallationStore.default_bots_table_name
)
OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, SQLAlchemyOAuthStateStore.default_table_name
)


class HandledRequest(Base):
    """One row per Slack event/interaction already taken: Slack's retries find it and stop."""

    __tablename__ = "handled_requests"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class DiagnosisEvent(WorkspaceOwned, Base):
    """A count, not a record of speech: which cause was named, where and when. No text, no user.
    `channel_id` is None for DMs and the private shortcut: there, where would narrow down who asked."""

    __tablename__ = "diagnosis_events"
    __table_args__ = (Index("ix_diagnosis_events_team_created", "team_id", "created_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    label: Mapped[str] = mapped_column(String(40))
    surface: Mapped[str] = mapped_column(String(16))  # mention | shortcut | remedy | console
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Correction(WorkspaceOwned, Base):
    """Text a person chose to submit with the right label: the one place message text is kept."""

    __tablename__ = "corrections"
    __table_args__ = (Index("ix_corrections_team", "team_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    predicted: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(40))
    surface: Mapped[str] = mapped_column(String(16), default="")
    model_version: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Feedback(WorkspaceOwned, Base):
    """'Helpful' clicks: counts per label, nothing else."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_team", "team_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(40))
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HelpfulVote(WorkspaceOwned, Base):
    """That someone already said a reply was helpful: a keyed hash of (reply, user), so "Helpful"
    counts once per person per reply while nothing here says who. No time, no rowid, no order."""

    __tablename__ = "helpful_votes"
    __table_args__ = (Index("ix_helpful_votes_team", "team_id"), {"sqlite_with_rowid": False})
    key: Mapped[str] = mapped_column(String(64), primary_key=True)


class PulseChannel(WorkspaceOwned, Base):
    """A channel Truce was invited to, with its schedule."""

    __tablename__ = "pulse_channels"
    __table_args__ = (
        Index("ix_pulse_channels_team", "team_id"),
        Index("ix_pulse_channels_next_check", "next_check_at"),
    )
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # 0 = Monday
    time: Mapped[str] = mapped_column(String(5), default="10:00")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    member: Mapped[bool] = mapped_column(Boolean, default=True)  # False once Truce is removed
    # Runs scheduled before this instant are never due: opting in or changing the schedule
    # does not fire a poll for a time that has already passed.
    active_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # When the clock must next look at this channel (its next scheduled run); NULL: at the next tick.
    # A tick reads only the channels and polls that are due, however many workspaces there are.
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class PulsePoll(WorkspaceOwned, Base):
    __tablename__ = "pulse_polls"
    __table_args__ = (
        UniqueConstraint("channel_id", "period_key", name="uq_poll_channel_period"),
        Index("ix_pulse_polls_team_status", "team_id", "status"),
        # The clock asks "which polls need something now": open/pending polls by due time.
        Index("ix_pulse_polls_status_closes", "status", "closes_at"),
        Index("ix_pulse_polls_status_remind", "status", "remind_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    period_key: Mapped[str] = mapped_column(String(16))  # ISO week of the scheduled run, e.g. 2026-W48
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | open | closed | failed
    message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reminder_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Half-way between opening and closing: when the reminder is due (set when the poll opens).
    remind_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    summary_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Whoever holds an unexpired lease is posting this poll (or its summary); a failed attempt
    # sets it to the retry time, so the row stays claimable and is never lost.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Aggregates written at close, so trends never need the per-person rows.
    responses: Mapped[int] = mapped_column(Integer, default=0)
    avg_score: Mapped[float | None] = mapped_column(Float, nullable=True)


class PulseResponse(WorkspaceOwned, Base):
    """One anonymous answer. `voter_hash` is a keyed hash of (poll, user) used only to let a person
    change their answer while the poll is open; it is erased when the poll closes.

    The key is random, and on SQLite the table has no hidden rowid, so neither the ids nor the
    storage order keep the order in which people first answered."""

    __tablename__ = "pulse_responses"
    __table_args__ = (
        UniqueConstraint("poll_id", "voter_hash", name="uq_response_poll_voter"),
        Index("ix_pulse_responses_team", "team_id"),
        {"sqlite_with_rowid": False},
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    poll_id: Mapped[int] = mapped_column(ForeignKey("pulse_polls.id", ondelete="CASCADE"), index=True)
    voter_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    side: Mapped[str | None] = mapped_column(String(12), nullable=True)  # sales | marketing | other
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1..5
    cause: Mapped[str | None] = mapped_column(String(40), nullable=True)  # a cause id or "nothing"


class Experiment(Base):
    """A remedy a channel committed to try ("Try" on a remedy), with its owner and check-in date.

    Every row carries the workspace (`team_id`, and `enterprise_id` on Enterprise Grid) and every
    query is scoped by it. The remedy is a playbook entry (cause id and its title when picked), never
    text a person typed."""

    __tablename__ = "experiments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    # The thread the announcement went to (the one it was picked in), or None when it was posted
    # at the top of the channel; announcement_ts is the announcement itself. The check-in goes to
    # thread_ts or, failing that, the announcement's own thread.
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    announcement_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    cause_id: Mapped[str] = mapped_column(String(40))
    remedy: Mapped[str] = mapped_column(String(200))  # the remedy's playbook title
    owner_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_on: Mapped[date] = mapped_column(Date)  # local date in the channel's timezone
    checkin_on: Mapped[date] = mapped_column(Date)
    checkin_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)  # UTC instant
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Checkin(Base):
    """The one check-in of an experiment ("Did *Lead SLA* help?"), claimed like a pulse poll: the
    unique experiment_id is taken before anything is posted, a lease says who is posting it now, and
    the counts are written at close, when the voter hashes are erased."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("experiment_id", name="uq_checkin_experiment"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | open | closed | failed
    message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    result_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Written at close. The per-answer counts are kept only when `responses` reached the threshold.
    responses: Mapped[int] = mapped_column(Integer, default=0)
    helped: Mapped[int | None] = mapped_column(Integer, nullable=True)
    partly: Mapped[int | None] = mapped_column(Integer, nullable=True)
    not_yet: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stopped: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CheckinAnswer(Base):
    """One anonymous check-in answer: like PulseResponse, a random key, no rowid on SQLite, and a
    keyed hash of (check-in, user) that lets a person change their answer, erased at close."""

    __tablename__ = "checkin_answers"
    __table_args__ = (
        UniqueConstraint("checkin_id", "voter_hash", name="uq_checkin_answer_voter"),
        {"sqlite_with_rowid": False},
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"), index=True)
    voter_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answer: Mapped[str] = mapped_column(String(12))  # helped | partly | not_yet | stopped
