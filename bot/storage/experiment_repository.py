"""Reads and writes for experiments (remedies a channel tries) and their check-ins.

Every method takes the workspace (`team_id`) and scopes its query by it; only the clock's "what is
due" questions look across workspaces, and everything they return carries its own team_id.
Exactly-once posting works as for polls (SessionRepository._claim_open): a check-in row is claimed through a unique constraint
(one per experiment) *before* anything is posted, with a lease saying who is posting it now.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.storage.models import (
    Checkin,
    CheckinAnswer,
    DiagnosisEvent,
    Experiment,
    PulseChannel,
    PulsePoll,
    PulseResponse,
)
from bot.storage.pulse_repository import LIFECYCLE_TIMES, as_utc, in_utc
from bot.storage.repository import SessionRepository, refusal, voter_row
from bot.storage.workspace import Workspace

CHOICES = ("helped", "partly", "not_yet", "stopped")


@dataclass(frozen=True)
class CheckinVote:
    """What recording a check-in click did: `status` is ok | closed | missing | elsewhere."""

    status: str
    answer: str | None = None
    first: bool = False
    closes_at: datetime | None = None
    experiment_id: int | None = None


@dataclass(frozen=True)
class PollFigures:
    """One closed, published pulse poll of a channel: when it opened and its answers (no hashes)."""

    opened_at: datetime
    scores: tuple[int, ...]
    causes: tuple[str, ...]


def _experiment(row: Experiment | None) -> Experiment | None:
    return in_utc(row, "checkin_at", "created_at")


def _checkin(row: Checkin | None) -> Checkin | None:
    return in_utc(row, *LIFECYCLE_TIMES)


class ExperimentRepository(SessionRepository):
    # ---- experiments ----------------------------------------------------------------------------
    def add_experiment(
        self,
        *,
        team_id: str,
        enterprise_id: str | None,
        channel_id: str,
        thread_ts: str | None,
        cause_id: str,
        remedy: str,
        owner_id: str | None,
        started_on: date,
        checkin_on: date,
        checkin_at: datetime,
        now: datetime,
    ) -> Experiment:
        with self.transaction() as session:
            row = Experiment(
                team_id=team_id,
                enterprise_id=enterprise_id or None,
                channel_id=channel_id,
                thread_ts=thread_ts or None,
                cause_id=cause_id,
                remedy=remedy[:200],
                owner_id=owner_id or None,
                started_on=started_on,
                checkin_on=checkin_on,
                checkin_at=checkin_at,
                created_at=now,
            )
            session.add(row)
            session.flush()
            return _experiment(row)

    def set_announced(self, team_id: str, experiment_id: int, announcement_ts: str | None) -> None:
        with self.transaction() as session:
            session.execute(
                update(Experiment)
                .where(Experiment.team_id == team_id, Experiment.id == experiment_id)
                .values(announcement_ts=announcement_ts)
                .execution_options(synchronize_session=False)
            )

    def delete_experiment(self, team_id: str, experiment_id: int) -> None:
        """An experiment whose announcement could not be posted never started."""
        with self.transaction() as session:
            session.execute(
                delete(Experiment).where(Experiment.team_id == team_id, Experiment.id == experiment_id)
            )

    def experiment(self, team_id: str, experiment_id: int) -> Experiment | None:
        with self._sessions() as session:
            return _experiment(
                session.scalar(
                    select(Experiment).where(Experiment.team_id == team_id, Experiment.id == experiment_id)
                )
            )

    def experiments(
        self, team_id: str, channel_ids: Iterable[str] | None = None, cause_id: str | None = None
    ) -> list[Experiment]:
        """A workspace's experiments (in the given channels, of the given cause), newest first."""
        query = select(Experiment).where(Experiment.team_id == team_id)
        if channel_ids is not None:
            query = query.where(Experiment.channel_id.in_(sorted(set(channel_ids))))
        if cause_id is not None:
            query = query.where(Experiment.cause_id == cause_id)
        query = query.order_by(Experiment.started_on.desc(), Experiment.id.desc())
        with self._sessions() as session:
            return [_experiment(row) for row in session.scalars(query)]

    def without_checkin(
        self,
        due_by: datetime | None,
        channel_ids: Iterable[str] | None = None,
        retry_failed: bool = False,
        team_id: str | None = None,
    ) -> list[Experiment]:
        """Experiments whose check-in time has come (any, when `due_by` is None) and that have no
        check-in row yet, or only a pending one (or a given-up one, when `retry_failed`); of one
        workspace, or of every workspace when `team_id` is None."""
        done = ("open", "closed") if retry_failed else ("open", "closed", "failed")
        taken = select(Checkin.experiment_id).where(Checkin.status.in_(done))
        query = select(Experiment).where(Experiment.announcement_ts.is_not(None), Experiment.id.not_in(taken))
        if team_id is not None:
            query = query.where(Experiment.team_id == team_id)
        if due_by is not None:
            query = query.where(Experiment.checkin_at <= due_by)
        if channel_ids is not None:
            query = query.where(Experiment.channel_id.in_(list(channel_ids)))
        with self._sessions() as session:
            return [_experiment(row) for row in session.scalars(query.order_by(Experiment.id))]

    def workspaces_due(self, now: datetime) -> list[Workspace]:
        """The workspaces (across all) with a check-in to post or to close now, for the clock."""
        pending = or_(Checkin.lease_until.is_(None), Checkin.lease_until <= now)
        started = select(Checkin.experiment_id).where(
            or_(Checkin.status.in_(("open", "closed", "failed")), and_(Checkin.status == "pending", ~pending))
        )
        parts = [
            select(Experiment.team_id, Experiment.enterprise_id).where(
                Experiment.announcement_ts.is_not(None),
                Experiment.checkin_at <= now,
                Experiment.id.not_in(started),
            ),
            select(Checkin.team_id, Checkin.enterprise_id).where(
                Checkin.status == "open",
                Checkin.closes_at <= now,
                or_(Checkin.lease_until.is_(None), Checkin.lease_until <= now),
            ),
        ]
        found: dict[str, Workspace] = {}
        with self._sessions() as session:
            for part in parts:
                for team_id, enterprise_id in session.execute(part.distinct()):
                    found.setdefault(team_id, Workspace(team_id, enterprise_id))
        return [found[team] for team in sorted(found)]

    def teams_of_channels(self, channel_ids: Iterable[str]) -> set[str]:
        """The workspaces that have experiments in the given channels (`checkins --channel`)."""
        with self._sessions() as session:
            return set(
                session.scalars(
                    select(Experiment.team_id)
                    .where(Experiment.channel_id.in_(sorted(set(channel_ids))))
                    .distinct()
                )
            )

    def channel_timezone(self, team_id: str, channel_id: str) -> str | None:
        """The pulse schedule's timezone of a channel of this workspace, when it has one."""
        with self._sessions() as session:
            return session.scalar(
                select(PulseChannel.timezone).where(
                    PulseChannel.team_id == team_id, PulseChannel.channel_id == channel_id
                )
            )

    # ---- check-ins ------------------------------------------------------------------------------
    def claim_checkin(
        self,
        experiment: Experiment,
        now: datetime,
        closes_at: datetime,
        lease_until: datetime,
        retry_failed: bool = False,
    ) -> Checkin | None:
        """Take the right to post an experiment's check-in, or None if someone has or had it."""
        return self._claim_open(
            Checkin,
            lambda: Checkin(
                team_id=experiment.team_id,
                enterprise_id=experiment.enterprise_id,
                experiment_id=experiment.id,
                channel_id=experiment.channel_id,
                status="pending",
                opened_at=now,
                closes_at=closes_at,
                lease_until=lease_until,
                attempts=1,
                responses=0,
            ),
            [Checkin.team_id == experiment.team_id, Checkin.experiment_id == experiment.id],
            now,
            lease_until,
            retry_failed,
            {"opened_at": now, "closes_at": closes_at},
            _checkin,
        )

    def mark_checkin_open(self, team_id: str, checkin_id: int, message_ts: str) -> None:
        with self.transaction() as session:
            row = self._own(session, team_id, checkin_id)
            row.status, row.message_ts, row.lease_until = "open", message_ts, None

    def retry_checkin_later(self, team_id: str, checkin_id: int, at: datetime) -> None:
        with self.transaction() as session:
            self._own(session, team_id, checkin_id).lease_until = at

    def give_up_checkin(self, team_id: str, checkin_id: int) -> None:
        with self.transaction() as session:
            row = self._own(session, team_id, checkin_id)
            row.status, row.lease_until = "failed", None

    @staticmethod
    def _own(session, team_id: str, checkin_id: int) -> Checkin:
        row = session.scalar(select(Checkin).where(Checkin.team_id == team_id, Checkin.id == checkin_id))
        if row is None:
            raise KeyError(checkin_id)
        return row

    def checkin(self, team_id: str, checkin_id: int) -> Checkin | None:
        with self._sessions() as session:
            return _checkin(
                session.scalar(select(Checkin).where(Checkin.team_id == team_id, Checkin.id == checkin_id))
            )

    def checkins(
        self, statuses: Iterable[str], channel_ids: Iterable[str] | None = None, team_id: str | None = None
    ) -> list[Checkin]:
        """Check-ins in the given states; every workspace's unless `team_id` is given (the clock)."""
        query = select(Checkin).where(Checkin.status.in_(list(statuses))).order_by(Checkin.id)
        if team_id is not None:
            query = query.where(Checkin.team_id == team_id)
        if channel_ids is not None:
            query = query.where(Checkin.channel_id.in_(list(channel_ids)))
        with self._sessions() as session:
            return [_checkin(row) for row in session.scalars(query)]

    def checkins_of(self, team_id: str, experiment_ids: Iterable[int]) -> dict[int, Checkin]:
        wanted = sorted(set(experiment_ids))
        if not wanted:
            return {}
        with self._sessions() as session:
            rows = session.scalars(
                select(Checkin).where(Checkin.team_id == team_id, Checkin.experiment_id.in_(wanted))
            )
            return {row.experiment_id: _checkin(row) for row in rows}

    def record_answer(
        self,
        team_id: str,
        checkin_id: int,
        voter_hash: str,
        answer: str,
        now: datetime,
        *,
        channel_id: str,
        message_ts: str,
    ) -> CheckinVote:
        """Set a person's answer while the check-in is open; only a click on its own message counts."""
        if answer not in CHOICES:
            raise ValueError(f"unknown check-in answer {answer!r}")
        for _ in range(2):  # a double click can race to insert the same person's row
            try:
                with self.transaction() as session:
                    row = session.scalar(
                        select(Checkin).where(Checkin.team_id == team_id, Checkin.id == checkin_id)
                    )
                    if row is None:
                        return CheckinVote("missing")
                    closes_at = as_utc(row.closes_at)
                    refused = refusal(row, channel_id, message_ts, now)
                    if refused == "elsewhere":
                        return CheckinVote("elsewhere")
                    if refused:
                        return CheckinVote("closed", closes_at=closes_at, experiment_id=row.experiment_id)
                    mine, first = voter_row(
                        session,
                        CheckinAnswer,
                        CheckinAnswer.checkin_id == checkin_id,
                        voter_hash,
                        team_id=team_id,
                        enterprise_id=row.enterprise_id,
                        checkin_id=checkin_id,
                    )
                    mine.answer = answer
                    session.flush()
                    return CheckinVote("ok", answer, first, closes_at, row.experiment_id)
            except IntegrityError:
                continue
        raise RuntimeError("could not record a check-in answer")

    def answer_counts(self, team_id: str, checkin_id: int) -> Counter:
        with self._sessions() as session:
            rows = session.execute(
                select(CheckinAnswer.answer, func.count())
                .where(CheckinAnswer.team_id == team_id, CheckinAnswer.checkin_id == checkin_id)
                .group_by(CheckinAnswer.answer)
            )
            return Counter({answer: count for answer, count in rows})

    def claim_close(
        self, team_id: str, checkin_id: int, now: datetime, lease_until: datetime, force: bool = False
    ) -> bool:
        return self._claim_close(Checkin, checkin_id, [Checkin.team_id == team_id], now, lease_until, force)

    def release_close(self, team_id: str, checkin_id: int, at: datetime) -> None:
        with self.transaction() as session:
            self._own(session, team_id, checkin_id).lease_until = at

    def finish_close(
        self,
        team_id: str,
        checkin_id: int,
        result_ts: str | None,
        responses: int,
        counts: dict[str, int] | None,
        now: datetime,
    ) -> None:
        """Closed for good: keep the counts (None below the threshold), erase the voter hashes."""
        with self.transaction() as session:
            row = self._own(session, team_id, checkin_id)
            row.status, row.closed_at, row.result_ts, row.lease_until = "closed", now, result_ts, None
            row.responses = responses
            for choice in CHOICES:
                setattr(row, choice, None if counts is None else counts.get(choice, 0))
            session.execute(
                update(CheckinAnswer)
                .where(CheckinAnswer.team_id == team_id, CheckinAnswer.checkin_id == checkin_id)
                .values(voter_hash=None)
                .execution_options(synchronize_session=False)
            )

    def purge_erased(self) -> None:
        """As PulseRepository.purge_erased, for check-in answers."""
        self._purge_erased("checkin_answers")

    # ---- what the effect is measured with ----------------------------------------------------------
    def published_polls(
        self, team_id: str, channel_id: str, since: datetime, until: datetime, min_responses: int
    ) -> list[PollFigures]:
        """Closed pulse polls of a workspace's channel opened in [since, until) whose results were
        published (at least `min_responses` answers), with their answers' scores and causes."""
        with self._sessions() as session:
            polls = list(
                session.scalars(
                    select(PulsePoll).where(
                        PulsePoll.team_id == team_id,
                        PulsePoll.channel_id == channel_id,
                        PulsePoll.status == "closed",
                        PulsePoll.responses >= min_responses,
                        PulsePoll.opened_at >= since,
                        PulsePoll.opened_at < until,
                    )
                )
            )
            figures = []
            for poll in polls:
                rows = session.execute(
                    select(PulseResponse.score, PulseResponse.cause).where(
                        PulseResponse.team_id == team_id, PulseResponse.poll_id == poll.id
                    )
                ).all()
                figures.append(
                    PollFigures(
                        as_utc(poll.opened_at),
                        tuple(score for score, _ in rows if score is not None),
                        tuple(cause for _, cause in rows if cause),
                    )
                )
            return figures

    def diagnoses(self, team_id: str, channel_id: str, label: str, since: datetime, until: datetime) -> int:
        with self._sessions() as session:
            return session.scalar(
                select(func.count())
                .select_from(DiagnosisEvent)
                .where(
                    DiagnosisEvent.team_id == team_id,
                    DiagnosisEvent.channel_id == channel_id,
                    DiagnosisEvent.label == label,
                    DiagnosisEvent.created_at >= since,
                    DiagnosisEvent.created_at < until,
                )
            )
