"""All reads and writes the listeners need, each in its own short transaction."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.models import (
    Correction,
    DiagnosisEvent,
    Feedback,
    HandledRequest,
    HelpfulVote,
    PulseChannel,
    PulsePoll,
)


@dataclass(frozen=True)
class TrendPoint:
    """One closed pulse of one channel, as aggregates only."""

    period_key: str
    closed_at: datetime
    responses: int
    avg_score: float


@functools.cache
def _claim_statement(dialect: str, count: int):
    """Built once per dialect and number of keys: composing a statement costs more than running it."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(HandledRequest)
        .values([{"key": bindparam(f"key{i}"), "created_at": bindparam("created_at")} for i in range(count)])
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(HandledRequest.key)  # the rows inserted now (psycopg's rowcount says -1 here)
    )


_RECORD_DIAGNOSIS = insert(DiagnosisEvent).values(
    label=bindparam("label"),
    surface=bindparam("surface"),
    team_id=bindparam("team_id"),
    channel_id=bindparam("channel_id"),
    created_at=bindparam("created_at"),
)


class SessionRepository:
    """Holds the session factory; every method is one short transaction."""

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed whole or rolled back whole."""
        with self._sessions.begin() as session:
            yield session


class Repository(SessionRepository):
    # ---- exactly-once delivery ------------------------------------------------------------
    def claim(self, key: str) -> bool:
        """Record that `key` is being handled. False if another attempt already claimed it."""
        return self.claim_each([key]) == [True]

    def claim_each(self, keys: Sequence[str]) -> list[bool]:
        """Claim all `keys` at once; for each, True if claimed now, False if another attempt had.

        This runs before Slack gets its acknowledgement, on every request: one prebuilt statement
        (INSERT .. ON CONFLICT DO NOTHING RETURNING, which SQLite and PostgreSQL both know) on a pooled
        connection, with no ORM unit of work, and one commit. The row, not this process, decides:
        several web processes may share the database."""
        keys = [key[:200] for key in keys]
        engine = self._sessions.kw["bind"]
        params = {f"key{i}": key for i, key in enumerate(keys)}
        with engine.begin() as conn:
            result = conn.execute(
                _claim_statement(engine.dialect.name, len(keys)), {**params, "created_at": datetime.now(UTC)}
            )
            claimed = set(result.scalars())
        return [key in claimed for key in keys]

    def prune_handled(self, before: datetime) -> int:
        with self.transaction() as session:
            return session.execute(delete(HandledRequest).where(HandledRequest.created_at < before)).rowcount

    # ---- diagnoses, feedback, corrections ----------------------------------------------------
    def record_diagnosis(
        self, label: str, surface: str, team_id: str = "", channel_id: str | None = None
    ) -> None:
        # Every reply counts one: a plain INSERT on a pooled connection, without the ORM's unit of work.
        with self._sessions.kw["bind"].begin() as conn:
            conn.execute(
                _RECORD_DIAGNOSIS,
                {
                    "label": label,
                    "surface": surface,
                    "team_id": team_id,
                    "channel_id": channel_id or None,
                    "created_at": datetime.now(UTC),
                },
            )

    def diagnosis_counts(self, since: datetime, channel_ids: Iterable[str]) -> dict[str, int]:
        """Diagnoses per cause since `since`, in the given channels only (never DMs or shortcuts,
        which keep no channel)."""
        wanted = sorted(set(channel_ids))
        if not wanted:
            return {}
        counts: dict[str, int] = {}
        with self._sessions() as session:
            for start in range(0, len(wanted), 500):  # bounded IN lists, however many channels
                rows = session.execute(
                    select(DiagnosisEvent.label, func.count())
                    .where(
                        DiagnosisEvent.created_at >= since,
                        DiagnosisEvent.channel_id.in_(wanted[start : start + 500]),
                    )
                    .group_by(DiagnosisEvent.label)
                )
                for label, count in rows:
                    counts[label] = counts.get(label, 0) + count
        return counts

    def record_feedback(self, label: str, helpful: bool) -> None:
        with self.transaction() as session:
            session.add(Feedback(label=label, helpful=helpful))

    def record_helpful(self, label: str, key: str) -> bool:
        """Count a "Helpful" for `label` unless `key` (who, for which reply; keyed) was counted
        already. True if it was counted now."""
        try:
            with self.transaction() as session:
                session.add(HelpfulVote(key=key))
                session.flush()
                session.add(Feedback(label=label, helpful=True))
        except IntegrityError:
            return False
        return True

    def add_correction(self, text: str, predicted: str, label: str, surface: str, model_version: str) -> int:
        with self.transaction() as session:
            row = Correction(
                text=text, predicted=predicted, label=label, surface=surface, model_version=model_version
            )
            session.add(row)
            session.add(Feedback(label=predicted, helpful=False))
            session.flush()
            return row.id

    def corrections(self) -> list[Correction]:
        with self._sessions() as session:
            return list(session.scalars(select(Correction).order_by(Correction.id)))

    # ---- pulse aggregates for App Home ---------------------------------------------------------
    def pulse_trends(
        self,
        channel_ids: Iterable[str] | None = None,
        weeks: int = 8,
        min_responses: int = 3,
        now: datetime | None = None,
    ) -> dict[str, list[TrendPoint]]:
        """Closed polls of the last `weeks` weeks with at least `min_responses` answers, oldest first."""
        since = (now or datetime.now(UTC)) - timedelta(weeks=weeks)
        wanted = set(channel_ids) if channel_ids is not None else None
        query = (
            select(
                PulsePoll.channel_id,
                PulsePoll.period_key,
                PulsePoll.closed_at,
                PulsePoll.responses,
                PulsePoll.avg_score,
            )
            .where(
                PulsePoll.status == "closed",
                PulsePoll.responses >= min_responses,
                PulsePoll.avg_score.is_not(None),
                PulsePoll.closed_at.is_not(None),
                PulsePoll.closed_at >= since,
            )
            .order_by(PulsePoll.channel_id, PulsePoll.closed_at)
        )
        trends: dict[str, list[TrendPoint]] = {}
        with self._sessions() as session:
            for channel_id, period_key, closed_at, responses, avg_score in session.execute(query):
                if wanted is not None and channel_id not in wanted:
                    continue
                if closed_at.tzinfo is None:  # SQLite hands datetimes back naive
                    closed_at = closed_at.replace(tzinfo=UTC)
                trends.setdefault(channel_id, []).append(
                    TrendPoint(period_key, closed_at, responses, float(avg_score))
                )
        return {channel: points[-weeks:] for channel, points in trends.items()}

    def pulse_channels(self, channel_ids: Iterable[str] | None = None) -> list[PulseChannel]:
        """Pulse settings, for the given channels only when asked."""
        wanted = set(channel_ids) if channel_ids is not None else None
        with self._sessions() as session:
            rows = list(session.scalars(select(PulseChannel).order_by(PulseChannel.channel_id)))
        return [row for row in rows if wanted is None or row.channel_id in wanted]
