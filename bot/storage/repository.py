"""All reads and writes the listeners need, each in its own short transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.models import Correction, DiagnosisEvent, Feedback, HandledRequest


class Repository:
    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed whole or rolled back whole."""
        with self._sessions.begin() as session:
            yield session

    # ---- exactly-once delivery ------------------------------------------------------------
    def claim(self, key: str) -> bool:
        """Record that `key` is being handled. False if another attempt already claimed it."""
        try:
            with self.transaction() as session:
                session.add(HandledRequest(key=key[:200]))
        except IntegrityError:
            return False
        return True

    def prune_handled(self, before: datetime) -> int:
        with self.transaction() as session:
            return session.execute(delete(HandledRequest).where(HandledRequest.created_at < before)).rowcount

    # ---- diagnoses, feedback, corrections ----------------------------------------------------
    def record_diagnosis(self, label: str, surface: str, team_id: str = "", channel_id: str = "") -> None:
        with self.transaction() as session:
            session.add(DiagnosisEvent(label=label, surface=surface, team_id=team_id, channel_id=channel_id))

    def diagnosis_counts(self, since: datetime) -> dict[str, int]:
        with self._sessions() as session:
            rows = session.execute(
                select(DiagnosisEvent.label, func.count())
                .where(DiagnosisEvent.created_at >= since)
                .group_by(DiagnosisEvent.label)
            )
            return {label: count for label, count in rows}

    def record_feedback(self, label: str, helpful: bool) -> None:
        with self.transaction() as session:
            session.add(Feedback(label=label, helpful=helpful))

    def add_correction(self, text: str, predicted: str, label: str, surface: str, model_version: str) -> int:
        with self.transaction() as session:
            row = Correction(
                text=text, predicted=predicted, label=label, surface=surface, model_version=model_version
            )
            session.add(row)
            session.flush()
            return row.id

    def corrections(self) -> list[Correction]:
        with self._sessions() as session:
            return list(session.scalars(select(Correction).order_by(Correction.id)))
