"""Reads and writes for the weekly pulse, each in one short transaction.

Exactly-once posting rests on the database, not on the scheduler: a poll row for (channel, period)
is claimed through a unique constraint *before* anything is posted, and a lease on the row says who
is posting it right now. A failed attempt leaves the row pending with a retry time, so it is never
lost; a second scheduler (or a second `pulse send`) finds the row and stays quiet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.storage.models import PulseChannel, PulsePoll, PulseResponse
from bot.storage.repository import SessionRepository, as_utc, refusal, voter_row
from bot.storage.workspace import Workspace

FIELDS = ("side", "score", "cause")


@dataclass(frozen=True)
class Answer:
    """One person's answer, with nothing that says whose it is."""

    side: str | None = None
    score: int | None = None
    cause: str | None = None


@dataclass(frozen=True)
class Vote:
    """What recording a click did: `status` is ok | closed | missing | elsewhere (the click did not
    come from the poll's own message)."""

    status: str
    answer: Answer | None = None
    responses: int = 0
    first: bool = False  # this person's first click on this poll
    channel_id: str = ""
    message_ts: str | None = None
    closes_at: datetime | None = None


def in_utc(row, *names: str):
    """`row` (or None) with its named datetime columns made timezone-aware UTC."""
    if row is not None:
        for name in names:
            setattr(row, name, as_utc(getattr(row, name)))
    return row


# A lifecycle row's moments: polls and check-ins are opened, leased, closed the same way.
LIFECYCLE_TIMES = ("opened_at", "closes_at", "closed_at", "lease_until")


def _channel(row: PulseChannel | None) -> PulseChannel | None:
    return in_utc(row, "updated_at", "active_since")


def _poll(row: PulsePoll | None) -> PulsePoll | None:
    return in_utc(row, *LIFECYCLE_TIMES)


class PulseRepository(SessionRepository):
    """The pulse of one workspace (`workspace`): every read and write stays inside it. Without a
    workspace it sees every workspace's rows (operator exports and tests only)."""

    def __init__(self, sessions, workspace: Workspace | str | None = None):
        super().__init__(sessions)
        self.workspace = Workspace.of(workspace) if workspace is not None else None

    def _scope(self, model) -> list:
        return [] if self.workspace is None else [model.team_id == self.workspace.team_id]

    def _owns(self, row) -> bool:
        return row is not None and (self.workspace is None or row.team_id == self.workspace.team_id)

    def _ids(self) -> dict:
        if self.workspace is None:
            return {}
        return {"team_id": self.workspace.team_id, "enterprise_id": self.workspace.enterprise_id}

    def _get_channel(self, session, channel_id: str) -> PulseChannel | None:
        row = session.get(PulseChannel, channel_id)
        return row if self._owns(row) else None

    # ---- channels -------------------------------------------------------------------------
    def channel(self, channel_id: str) -> PulseChannel | None:
        with self._sessions() as session:
            return _channel(self._get_channel(session, channel_id))

    def channels(self, only: Iterable[str] | None = None, active: bool = True) -> list[PulseChannel]:
        """Channels Truce is in with the pulse on (or every known channel when `active` is False)."""
        query = select(PulseChannel).where(*self._scope(PulseChannel)).order_by(PulseChannel.channel_id)
        if active:
            query = query.where(PulseChannel.enabled.is_(True), PulseChannel.member.is_(True))
        if only is not None:
            query = query.where(PulseChannel.channel_id.in_(list(only)))
        with self._sessions() as session:
            return [_channel(row) for row in session.scalars(query)]

    def opt_in(
        self, channel_id: str, team_id: str, weekday: int, time: str, timezone: str, now: datetime
    ) -> tuple[PulseChannel, bool]:
        """Truce is in the channel: turn the pulse on. Returns (row, whether this was new or a re-join).

        A known channel keeps its schedule; a re-joined one starts counting from now.
        """
        for _ in range(2):  # two deliveries of the same join may race; the loser updates
            try:
                with self.transaction() as session:
                    row = session.get(PulseChannel, channel_id)
                    if row is None:
                        row = PulseChannel(
                            channel_id=channel_id,
                            team_id=team_id or (self.workspace.team_id if self.workspace else ""),
                            enterprise_id=self.workspace.enterprise_id if self.workspace else None,
                            enabled=True,
                            member=True,
                            weekday=weekday,
                            time=time,
                            timezone=timezone,
                            active_since=now,
                        )
                        session.add(row)
                        session.flush()
                        return _channel(row), True
                    if not self._owns(row):  # a shared channel another workspace opted in first
                        return _channel(row), False
                    rejoined = not row.member
                    if rejoined:
                        row.member, row.enabled, row.active_since = True, True, now
                        row.next_check_at = None
                    if team_id and not row.team_id:
                        row.team_id = team_id
                    session.flush()
                    return _channel(row), rejoined
            except IntegrityError:
                continue
        raise RuntimeError(f"could not opt channel {channel_id} in")

    def set_member(self, channel_id: str, member: bool) -> bool:
        with self.transaction() as session:
            row = self._get_channel(session, channel_id)
            if row is None or row.member == member:
                return False
            row.member = member
            return True

    def set_enabled(self, channel_id: str, enabled: bool, now: datetime) -> None:
        with self.transaction() as session:
            row = self._get_channel(session, channel_id)
            if row is None:
                raise KeyError(channel_id)
            if enabled and not row.enabled:
                row.active_since = now
            row.enabled, row.next_check_at = enabled, None

    def set_schedule(self, channel_id: str, weekday: int, time: str, timezone: str, now: datetime) -> None:
        with self.transaction() as session:
            row = self._get_channel(session, channel_id)
            if row is None:
                raise KeyError(channel_id)
            row.weekday, row.time, row.timezone, row.active_since = weekday, time, timezone, now
            row.next_check_at = None  # the clock looks again at the next tick

    def set_next_checks(self, next_checks: dict[str, datetime]) -> None:
        """When the clock must look at each of these channels again (their next scheduled runs)."""
        if not next_checks:
            return
        with self.transaction() as session:
            for channel_id, at in next_checks.items():
                session.execute(
                    update(PulseChannel)
                    .where(PulseChannel.channel_id == channel_id, *self._scope(PulseChannel))
                    .values(next_check_at=at)
                    .execution_options(synchronize_session=False)
                )

    def teams(self) -> list[str]:
        """The team ids that have pulse polls (for the operator's export)."""
        with self._sessions() as session:
            return list(session.scalars(select(PulsePoll.team_id).distinct().order_by(PulsePoll.team_id)))

    def workspaces_due(self, now: datetime) -> list[Workspace]:
        """The workspaces with something for the clock to do now: a channel whose scheduled run has
        come (or was never looked at), a poll waiting to be (re)posted, a reminder or a close that is
        due. Each part reads an index, so the cost follows what is due, not how many channels exist."""
        parts = [
            select(PulseChannel.team_id, PulseChannel.enterprise_id).where(
                PulseChannel.enabled.is_(True),
                PulseChannel.member.is_(True),
                or_(PulseChannel.next_check_at.is_(None), PulseChannel.next_check_at <= now),
            ),
            select(PulsePoll.team_id, PulsePoll.enterprise_id).where(
                PulsePoll.status == "pending",
                or_(PulsePoll.lease_until.is_(None), PulsePoll.lease_until <= now),
            ),
            select(PulsePoll.team_id, PulsePoll.enterprise_id).where(
                PulsePoll.status == "open", PulsePoll.closes_at <= now
            ),
            select(PulsePoll.team_id, PulsePoll.enterprise_id).where(
                PulsePoll.status == "open", PulsePoll.reminder_sent.is_(False), PulsePoll.remind_at <= now
            ),
        ]
        found: dict[str, Workspace] = {}
        with self._sessions() as session:
            for part in parts:
                for team_id, enterprise_id in session.execute(part.distinct()):
                    found.setdefault(team_id, Workspace(team_id, enterprise_id))
        return [found[team] for team in sorted(found)]

    # ---- polls ----------------------------------------------------------------------------
    def poll(self, poll_id: int) -> PulsePoll | None:
        with self._sessions() as session:
            row = session.get(PulsePoll, poll_id)
            return _poll(row) if self._owns(row) else None

    def poll_for(self, channel_id: str, period_key: str) -> PulsePoll | None:
        with self._sessions() as session:
            return _poll(
                session.scalar(
                    select(PulsePoll).where(
                        PulsePoll.channel_id == channel_id,
                        PulsePoll.period_key == period_key,
                        *self._scope(PulsePoll),
                    )
                )
            )

    def periods_taken(self, channel_ids: Iterable[str], period_keys: Iterable[str]) -> set[tuple[str, str]]:
        with self._sessions() as session:
            rows = session.execute(
                select(PulsePoll.channel_id, PulsePoll.period_key).where(
                    PulsePoll.channel_id.in_(list(channel_ids)),
                    PulsePoll.period_key.in_(list(set(period_keys))),
                )
            )
            return {(channel, period) for channel, period in rows}

    def polls(self, statuses: Iterable[str], channel_ids: Iterable[str] | None = None) -> list[PulsePoll]:
        query = (
            select(PulsePoll)
            .where(PulsePoll.status.in_(list(statuses)), *self._scope(PulsePoll))
            .order_by(PulsePoll.id)
        )
        if channel_ids is not None:
            query = query.where(PulsePoll.channel_id.in_(list(channel_ids)))
        with self._sessions() as session:
            return [_poll(row) for row in session.scalars(query)]

    def claim_poll(
        self,
        channel_id: str,
        period_key: str,
        now: datetime,
        closes_at: datetime,
        lease_until: datetime,
        retry_failed: bool = False,
    ) -> PulsePoll | None:
        """Take the right to post (channel, period)'s poll, or None if someone has or had it.

        New rows are created already leased; an existing row is taken over only while it is
        pending with an expired lease (a failed attempt waiting for its retry), or, when
        `retry_failed`, after it was given up.
        """
        return self._claim_open(
            PulsePoll,
            lambda: PulsePoll(
                **self._ids(),
                channel_id=channel_id,
                period_key=period_key,
                status="pending",
                opened_at=now,
                closes_at=closes_at,
                lease_until=lease_until,
                attempts=1,
            ),
            [PulsePoll.channel_id == channel_id, PulsePoll.period_key == period_key],
            now,
            lease_until,
            retry_failed,
            {"closes_at": closes_at},
            _poll,
        )

    def mark_open(self, poll_id: int, message_ts: str, opened_at: datetime, closes_at: datetime) -> None:
        with self.transaction() as session:
            row = session.get(PulsePoll, poll_id)
            row.status, row.message_ts, row.lease_until = "open", message_ts, None
            row.opened_at, row.closes_at = opened_at, closes_at
            # The reminder goes half-way through (PulseService.remind_due); the clock finds it by this.
            row.remind_at = opened_at + (closes_at - opened_at) / 2

    def retry_later(self, poll_id: int, at: datetime) -> None:
        """The post failed: leave the row pending, claimable again from `at`."""
        with self.transaction() as session:
            session.get(PulsePoll, poll_id).lease_until = at

    def give_up(self, poll_id: int) -> None:
        with self.transaction() as session:
            row = session.get(PulsePoll, poll_id)
            row.status, row.lease_until = "failed", None

    def latest_poll(self, channel_id: str) -> PulsePoll | None:
        with self._sessions() as session:
            return _poll(
                session.scalar(
                    select(PulsePoll)
                    .where(
                        PulsePoll.channel_id == channel_id,
                        PulsePoll.status != "failed",
                        *self._scope(PulsePoll),
                    )
                    .order_by(PulsePoll.period_key.desc(), PulsePoll.id.desc())
                    .limit(1)
                )
            )

    def latest_closed(self, channel_id: str) -> PulsePoll | None:
        with self._sessions() as session:
            return _poll(
                session.scalar(
                    select(PulsePoll)
                    .where(
                        PulsePoll.channel_id == channel_id,
                        PulsePoll.status == "closed",
                        *self._scope(PulsePoll),
                    )
                    .order_by(PulsePoll.period_key.desc(), PulsePoll.id.desc())
                    .limit(1)
                )
            )

    def closed_between(self, channel_id: str, first_period: str, last_period: str) -> list[PulsePoll]:
        """Closed polls of a channel with first_period <= period_key <= last_period, oldest first."""
        with self._sessions() as session:
            return [
                _poll(row)
                for row in session.scalars(
                    select(PulsePoll)
                    .where(
                        PulsePoll.channel_id == channel_id,
                        PulsePoll.status == "closed",
                        PulsePoll.period_key >= first_period,
                        PulsePoll.period_key <= last_period,
                        *self._scope(PulsePoll),
                    )
                    .order_by(PulsePoll.period_key)
                )
            ]

    # ---- answers --------------------------------------------------------------------------
    def record_answer(
        self,
        poll_id: int,
        voter_hash: str,
        field: str,
        value,
        now: datetime,
        *,
        channel_id: str,
        message_ts: str,
    ) -> Vote:
        """Set one of a person's answers (side, score or cause) while the poll is open. The click
        counts only when it came from the poll's own message (`channel_id`, `message_ts`)."""
        if field not in FIELDS:
            raise ValueError(f"unknown answer field {field!r}")
        for _ in range(2):  # a double click can race to insert the same person's row
            try:
                with self.transaction() as session:
                    poll = session.get(PulsePoll, poll_id)
                    if not self._owns(poll):  # another workspace's poll id is no poll here
                        return Vote("missing")
                    closes_at = as_utc(poll.closes_at)
                    refused = refusal(poll, channel_id, message_ts, now)
                    if refused == "elsewhere":
                        return Vote("elsewhere")
                    if refused:
                        return Vote("closed", channel_id=poll.channel_id, closes_at=closes_at)
                    row, first = voter_row(
                        session,
                        PulseResponse,
                        PulseResponse.poll_id == poll_id,
                        voter_hash,
                        poll_id=poll_id,
                        team_id=poll.team_id,
                        enterprise_id=poll.enterprise_id,
                    )
                    setattr(row, field, value)
                    session.flush()
                    count = session.scalar(
                        select(func.count())
                        .select_from(PulseResponse)
                        .where(PulseResponse.poll_id == poll_id)
                    )
                    return Vote(
                        "ok",
                        Answer(row.side, row.score, row.cause),
                        responses=count,
                        first=first,
                        channel_id=poll.channel_id,
                        message_ts=poll.message_ts,
                        closes_at=closes_at,
                    )
            except IntegrityError:
                continue
        raise RuntimeError("could not record a pulse answer")

    def response_count(self, poll_id: int) -> int:
        with self._sessions() as session:
            return session.scalar(
                select(func.count()).select_from(PulseResponse).where(PulseResponse.poll_id == poll_id)
            )

    def answers(self, poll_id: int) -> list[Answer]:
        with self._sessions() as session:
            rows = session.execute(
                select(PulseResponse.side, PulseResponse.score, PulseResponse.cause)
                .where(PulseResponse.poll_id == poll_id)
                .order_by(PulseResponse.id)
            )
            return [Answer(side, score, cause) for side, score, cause in rows]

    # ---- reminder and close -----------------------------------------------------------------
    def claim_reminder(self, poll_id: int) -> bool:
        with self.transaction() as session:
            return (
                session.execute(
                    update(PulsePoll)
                    .where(
                        PulsePoll.id == poll_id,
                        PulsePoll.status == "open",
                        PulsePoll.reminder_sent.is_(False),
                    )
                    .values(reminder_sent=True)
                    .execution_options(synchronize_session=False)
                ).rowcount
                == 1
            )

    def unclaim_reminder(self, poll_id: int) -> None:
        with self.transaction() as session:
            session.get(PulsePoll, poll_id).reminder_sent = False

    def claim_close(self, poll_id: int, now: datetime, lease_until: datetime, force: bool = False) -> bool:
        """Take the right to close an open poll (due, or any time when `force`)."""
        return self._claim_close(PulsePoll, poll_id, [], now, lease_until, force)

    def finish_close(
        self, poll_id: int, summary_ts: str | None, responses: int, avg_score: float | None, now: datetime
    ) -> None:
        """Closed for good: keep the aggregates, and erase the hashes that told answers apart."""
        with self.transaction() as session:
            row = session.get(PulsePoll, poll_id)
            row.status, row.closed_at, row.summary_ts, row.lease_until = "closed", now, summary_ts, None
            row.responses, row.avg_score = responses, avg_score
            session.execute(
                update(PulseResponse)
                .where(PulseResponse.poll_id == poll_id)
                .values(voter_hash=None)
                .execution_options(synchronize_session=False)
            )

    def purge_erased(self) -> None:
        """Make the hashes erased by `finish_close` unrecoverable (see SessionRepository._purge_erased)."""
        self._purge_erased("pulse_responses")

    def release_close(self, poll_id: int, at: datetime) -> None:
        with self.transaction() as session:
            session.get(PulsePoll, poll_id).lease_until = at
