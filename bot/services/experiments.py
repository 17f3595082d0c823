"""Closing the loop: a remedy a channel tries (an experiment), its one check-in, and its effect.

`ExperimentInsights` answers questions from the database and returns data: the effect of an
experiment (pulse score, the share of pulse answers naming its cause, Truce's diagnoses of that
cause — before and since), a channel's experiments (`/remedy tried`), and how often a remedy helped
across the workspace ("what works here"). `ExperimentService` adds the lifecycle that posts to
Slack — start (the public "are trying" line), send the check-in, record anonymous answers, close
with the result — handing plain data to an `ExperimentPresenter` it is given; it never imports
bot.views (bot/presenters/experiments.py builds the Block Kit).

Definitions (also in the README):
- A check-in's result is shown only when at least max(3, TRUCE_PULSE_MIN_RESPONSES) people answered;
  below that nothing but the number of answers is published or kept.
- A check-in says the remedy *helped* when more of its answers were Helped or Partly than Not yet or
  We stopped (a tie is not "helped").
- "What works here": a remedy tried in at least 3 channels of the workspace (an experiment there,
  announced) shows in how many of those channels a check-in said it helped.
- Effect: the same number of whole weeks before the start as since (at least 1, at most 6), from
  closed pulse polls whose results were published, and diagnoses Truce made in that channel.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.services.pulse import GONE_ERRORS, LEASE, MAX_ATTEMPTS, Report, post_once, run_steps, utc_now
from bot.services.schedule import Schedule
from bot.settings import Settings
from bot.slack_calls import api_error
from bot.storage.experiment_repository import CHOICES, CheckinVote, ExperimentRepository, PollFigures
from bot.storage.models import Checkin, Experiment
from bot.storage.workspace import Workspace

logger = logging.getLogger(__name__)

CHECKIN_TIME = "10:00"  # local morning of the check-in date, in the channel's timezone
DEFAULT_CHECKIN_DAYS = 14
CHECKIN_OPEN = timedelta(days=3)
MAX_EFFECT_WEEKS = 6
WORKS_FROM_CHANNELS = 3
HELPED = ("helped", "partly")


def checkin_hash(key: str, checkin_id: int, user_id: str) -> str:
    """Keyed hash of (check-in, user): one answer per person, changeable, erased at close. The
    "checkin:" prefix keeps it apart from pulse voter hashes of polls with the same number."""
    return hmac.new(key.encode(), f"checkin:{checkin_id}:{user_id}".encode(), hashlib.sha256).hexdigest()


def checkin_instant(day: date, timezone: str) -> datetime:
    """CHECKIN_TIME on local date `day`, as a UTC instant."""
    return Schedule(day.weekday(), CHECKIN_TIME, timezone).run_on(day)


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


# ---- data ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckinResult:
    """What a check-in may publish: the number of answers, and the counts only from `min_responses`."""

    responses: int
    min_responses: int
    counts: dict[str, int] | None  # None: too few answers to show

    @property
    def shown(self) -> bool:
        return self.counts is not None

    @property
    def helped(self) -> bool | None:
        """Did more answers say Helped or Partly than Not yet or We stopped? None when not shown."""
        if self.counts is None:
            return None
        yes = sum(self.counts.get(c, 0) for c in HELPED)
        return yes > self.responses - yes

    @classmethod
    def of(cls, counts: dict[str, int], min_responses: int) -> CheckinResult:
        k = max(3, min_responses)
        n = sum(counts.values())
        return cls(n, k, {c: counts.get(c, 0) for c in CHOICES} if n >= k else None)

    @classmethod
    def stored(cls, row: Checkin, min_responses: int) -> CheckinResult:
        k = max(3, min_responses)
        counts = None if row.helped is None else {c: getattr(row, c) or 0 for c in CHOICES}
        return cls(row.responses, k, counts)


@dataclass(frozen=True)
class Window:
    """One side of an effect: figures from `polls` published pulse polls and the diagnoses."""

    since: datetime
    until: datetime
    polls: int
    avg_score: float | None
    cause_named: int  # pulse answers naming the experiment's cause as what got in the way
    cause_answers: int  # pulse answers that named anything (or "nothing") for that question
    diagnoses: int


@dataclass(frozen=True)
class Effect:
    weeks: int
    before: Window
    since: Window

    @property
    def measurable(self) -> bool:
        """At least one closed, published pulse poll on each side."""
        return self.before.polls >= 1 and self.since.polls >= 1


@dataclass(frozen=True)
class ExperimentCard:
    """One experiment as people see it; every figure in it is already publishable."""

    id: int
    team_id: str
    channel_id: str
    cause_id: str
    remedy: str
    owner_id: str | None
    started_on: date
    checkin_on: date
    timezone: str
    status: str  # running | checking_in | finished
    result: CheckinResult | None = None
    effect: Effect | None = None


@dataclass(frozen=True)
class Works:
    """A remedy across the workspace: channels that tried it, and those where a check-in said it helped."""

    tried: int
    helped: int


class ExperimentPresenter(Protocol):
    def announcement(self, card: ExperimentCard) -> dict: ...

    def checkin(self, checkin_id: int, card: ExperimentCard, closes_at: datetime) -> dict: ...

    def closed_checkin(self, card: ExperimentCard) -> dict: ...

    def result(self, card: ExperimentCard) -> dict: ...


@dataclass(frozen=True)
class Started:
    """What start() did: ok (announced), not_in_channel (nothing kept) or failed (nothing kept)."""

    status: str
    card: ExperimentCard | None = None
    error: str = ""


# ---- reading -------------------------------------------------------------------------------------
class ExperimentInsights:
    def __init__(
        self, settings: Settings, repo: ExperimentRepository, clock: Callable[[], datetime] = utc_now
    ):
        self.settings = settings
        self.repo = repo
        self.clock = clock

    @property
    def min_responses(self) -> int:
        return max(3, self.settings.pulse_min_responses)

    def timezone(self, team_id: str, channel_id: str) -> str:
        """The channel's pulse timezone, else the default pulse timezone."""
        return self.repo.channel_timezone(team_id, channel_id) or self.settings.pulse_timezone

    def effect(self, experiment: Experiment, now: datetime, current: PollFigures | None = None) -> Effect:
        """Before and since the start. `current` is a poll closing right now (not yet stored as
        closed) whose published answers count too."""
        start = experiment.created_at
        elapsed = max(now - start, timedelta(0))
        weeks = min(MAX_EFFECT_WEEKS, max(1, math.ceil(elapsed / timedelta(weeks=1))))
        span = timedelta(weeks=weeks)
        return Effect(
            weeks,
            self._window(experiment, start - span, start),
            self._window(experiment, start, min(start + span, max(now, start)), current),
        )

    def _window(
        self, experiment: Experiment, since: datetime, until: datetime, current: PollFigures | None = None
    ) -> Window:
        polls = self.repo.published_polls(
            experiment.team_id, experiment.channel_id, since, until, self.min_responses
        )
        if current is not None and since <= current.opened_at:
            polls.append(current)
        scores = [s for p in polls for s in p.scores]
        causes = [c for p in polls for c in p.causes]
        return Window(
            since=since,
            until=until,
            polls=len(polls),
            avg_score=sum(scores) / len(scores) if scores else None,
            cause_named=sum(1 for c in causes if c == experiment.cause_id),
            cause_answers=len(causes),
            diagnoses=self.repo.diagnoses(
                experiment.team_id, experiment.channel_id, experiment.cause_id, since, until
            ),
        )

    def card(
        self,
        experiment: Experiment,
        checkin: Checkin | None,
        now: datetime,
        with_effect: bool = True,
        current: PollFigures | None = None,
    ) -> ExperimentCard:
        if checkin is None or checkin.status in ("pending", "failed"):
            status, result = "running", None
        elif checkin.status == "open":
            status, result = "checking_in", None
        else:
            status, result = "finished", CheckinResult.stored(checkin, self.min_responses)
        until = checkin.closed_at if checkin is not None and checkin.closed_at else now
        return ExperimentCard(
            id=experiment.id,
            team_id=experiment.team_id,
            channel_id=experiment.channel_id,
            cause_id=experiment.cause_id,
            remedy=experiment.remedy,
            owner_id=experiment.owner_id,
            started_on=experiment.started_on,
            checkin_on=experiment.checkin_on,
            timezone=self.timezone(experiment.team_id, experiment.channel_id),
            status=status,
            result=result,
            effect=self.effect(experiment, until, current) if with_effect else None,
        )

    def tried(
        self,
        team_id: str,
        channel_ids: Iterable[str] | None,
        now: datetime | None = None,
        limit: int = 20,
        current: PollFigures | None = None,
    ) -> list[ExperimentCard]:
        """Experiments of the workspace (in the given channels), newest first, with results and effects."""
        now = now or self.clock()
        rows = [r for r in self.repo.experiments(team_id, channel_ids) if r.announcement_ts][:limit]
        checkins = self.repo.checkins_of(team_id, [r.id for r in rows])
        return [self.card(row, checkins.get(row.id), now, current=current) for row in rows]

    def recent(
        self,
        team_id: str,
        channel_id: str,
        now: datetime,
        weeks: int = 8,
        current: PollFigures | None = None,
    ) -> list[ExperimentCard]:
        """The channel's experiments started in the last `weeks` weeks (for pulse summaries and charts)."""
        since = now - timedelta(weeks=weeks)
        cards = self.tried(team_id, [channel_id], now, current=current)
        return [c for c in cards if c.started_on >= since.date()]

    def works(self, team_id: str, cause_id: str) -> dict[str, Works]:
        """Per remedy title of a cause: in how many channels of the workspace it was tried, and in
        how many a check-in said it helped. Only remedies tried in WORKS_FROM_CHANNELS channels."""
        rows = [r for r in self.repo.experiments(team_id, cause_id=cause_id) if r.announcement_ts]
        checkins = self.repo.checkins_of(team_id, [r.id for r in rows])
        tried: dict[str, set[str]] = {}
        helped: dict[str, set[str]] = {}
        for row in rows:
            tried.setdefault(row.remedy, set()).add(row.channel_id)
            checkin = checkins.get(row.id)
            closed = checkin is not None and checkin.status == "closed"
            if closed and CheckinResult.stored(checkin, self.min_responses).helped:
                helped.setdefault(row.remedy, set()).add(row.channel_id)
        return {
            remedy: Works(len(channels), len(helped.get(remedy, ())))
            for remedy, channels in tried.items()
            if len(channels) >= WORKS_FROM_CHANNELS
        }


# ---- the lifecycle ---------------------------------------------------------------------------------
class ExperimentService(ExperimentInsights):
    def __init__(
        self,
        settings: Settings,
        repo: ExperimentRepository,
        client: WebClient,
        presenter: ExperimentPresenter,
        clock: Callable[[], datetime] = utc_now,
        workspace: Workspace | None = None,
    ):
        super().__init__(settings, repo, clock)
        self.client = client
        self.presenter = presenter
        # The workspace whose check-ins send_due/close_due post (with `client`, which carries its
        # token); None: every workspace's (one bot token, one workspace).
        self.workspace = workspace

    @property
    def _team(self) -> str | None:
        return self.workspace.team_id if self.workspace is not None else None

    # ---- start ---------------------------------------------------------------------------------
    def default_checkin_on(self, team_id: str, channel_id: str | None, now: datetime) -> date:
        tz = self.timezone(team_id, channel_id) if channel_id else self.settings.pulse_timezone
        return local_day(now, tz) + timedelta(days=DEFAULT_CHECKIN_DAYS)

    def start(
        self,
        workspace: Workspace,
        channel_id: str,
        thread_ts: str | None,
        cause_id: str,
        remedy: str,
        owner_id: str | None,
        checkin_on: date,
        now: datetime | None = None,
    ) -> Started:
        """Record the experiment and post the public line. When Slack refuses the post, nothing is
        kept and the caller hears why (not_in_channel: invite Truce there first)."""
        now = now or self.clock()
        tz = self.timezone(workspace.team_id, channel_id)
        row = self.repo.add_experiment(
            team_id=workspace.team_id,
            enterprise_id=workspace.enterprise_id,
            channel_id=channel_id,
            thread_ts=thread_ts,
            cause_id=cause_id,
            remedy=remedy,
            owner_id=owner_id,
            started_on=local_day(now, tz),
            checkin_on=checkin_on,
            checkin_at=checkin_instant(checkin_on, tz),
            now=now,
        )
        card = self.card(row, None, now, with_effect=False)
        try:
            posted = self.client.chat_postMessage(
                channel=channel_id,
                thread_ts=thread_ts,
                unfurl_links=False,
                **self.presenter.announcement(card),
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            self.repo.delete_experiment(workspace.team_id, row.id)
            error = api_error(exc)
            logger.warning("experiments: could not announce an experiment in %s (%s)", channel_id, error)
            return Started("not_in_channel" if error in GONE_ERRORS else "failed", error=error)
        self.repo.set_announced(workspace.team_id, row.id, posted.get("ts"))
        logger.info("experiments: experiment %s started in %s", row.id, channel_id)
        return Started("ok", card)

    # ---- check-in ------------------------------------------------------------------------------
    def send_due(
        self,
        now: datetime,
        force: bool = False,
        channel_ids: Iterable[str] | None = None,
        stopping: threading.Event | None = None,
    ) -> Report:
        """Post the check-in of every experiment whose check-in time has come (every one, when
        `force`: `python -m bot checkins send`), once per experiment."""
        report = Report()
        due = self.repo.without_checkin(
            None if force else now, channel_ids, retry_failed=force, team_id=self._team
        )
        for experiment in due:
            if stopping and stopping.is_set():
                break
            report.add(self.send(experiment, now, retry_failed=force))
        return report

    def send(self, experiment: Experiment, now: datetime, retry_failed: bool = False) -> str:
        """sent | already | failed | removed"""
        closes_at = now + CHECKIN_OPEN
        checkin = self.repo.claim_checkin(experiment, now, closes_at, now + LEASE, retry_failed)
        if checkin is None:
            return "already"
        team = experiment.team_id
        card = self.card(experiment, None, now, with_effect=False)
        posted = post_once(
            lambda: self.client.chat_postMessage(
                channel=experiment.channel_id,
                thread_ts=experiment.thread_ts or experiment.announcement_ts,
                unfurl_links=False,
                **self.presenter.checkin(checkin.id, card, closes_at),
            )
        )
        if posted.outcome == "gone":
            self.repo.give_up_checkin(team, checkin.id)
            logger.warning("experiments: Truce is no longer in %s; check-in skipped", experiment.channel_id)
            return "removed"
        if posted.outcome == "retry":
            return self._retry(checkin, now, posted.error)
        if posted.outcome == "timeout":
            self.repo.give_up_checkin(team, checkin.id)  # it may have been posted: no duplicate
            logger.error(
                "experiments: Slack did not answer in time when check-in %s was posted in %s; not retried "
                "(`python -m bot checkins send --channel %s` posts it)",
                checkin.id,
                experiment.channel_id,
                experiment.channel_id,
            )
            return "failed"
        self.repo.mark_checkin_open(team, checkin.id, posted.reply["ts"])
        logger.info("experiments: check-in %s posted in %s", checkin.id, experiment.channel_id)
        return "sent"

    def _retry(self, checkin: Checkin, now: datetime, why: str) -> str:
        if checkin.attempts >= MAX_ATTEMPTS:
            self.repo.give_up_checkin(checkin.team_id, checkin.id)
            logger.error("experiments: gave up posting check-in %s (%s)", checkin.id, why)
        else:
            wait = timedelta(minutes=min(60, 2 ** (checkin.attempts - 1)))
            self.repo.retry_checkin_later(checkin.team_id, checkin.id, now + wait)
            logger.warning("experiments: could not post check-in %s (%s); retrying", checkin.id, why)
        return "failed"

    def vote(
        self,
        workspace: Workspace,
        checkin_id: int,
        user_id: str,
        answer: str,
        *,
        channel_id: str,
        message_ts: str,
        now: datetime | None = None,
    ) -> CheckinVote:
        voter = checkin_hash(self.settings.pulse_hash_key, checkin_id, user_id)
        return self.repo.record_answer(
            workspace.team_id,
            checkin_id,
            voter,
            answer,
            now or self.clock(),
            channel_id=channel_id,
            message_ts=message_ts,
        )

    # ---- close ---------------------------------------------------------------------------------
    def close_due(
        self,
        now: datetime,
        force: bool = False,
        channel_ids: Iterable[str] | None = None,
        stopping: threading.Event | None = None,
    ) -> Report:
        report = Report()
        erased = False
        for checkin in self.repo.checkins(["open"], channel_ids, team_id=self._team):
            if stopping and stopping.is_set():
                break
            if not force and checkin.closes_at > now:
                continue
            outcome = self.close(checkin, now, force)
            report.add(outcome)
            erased = erased or outcome in ("closed", "removed")
        if erased:
            try:
                self.repo.purge_erased()
            except Exception as exc:
                logger.warning(
                    "experiments: erased hashes may linger until the next close (%s)", type(exc).__name__
                )
        return report

    def close(self, checkin: Checkin, now: datetime, force: bool = False) -> str:
        """Post the result in the thread, keep the counts, erase the hashes: closed | already | failed | removed."""
        team = checkin.team_id
        if not self.repo.claim_close(team, checkin.id, now, now + LEASE, force):
            return "already"
        experiment = self.repo.experiment(team, checkin.experiment_id)
        result = CheckinResult.of(dict(self.repo.answer_counts(team, checkin.id)), self.min_responses)
        base = self.card(experiment, None, now)
        card = replace(base, status="finished", result=result)
        outcome, result_ts = "closed", None
        posted = post_once(
            lambda: self.client.chat_postMessage(
                channel=checkin.channel_id,
                thread_ts=experiment.thread_ts or experiment.announcement_ts,
                unfurl_links=False,
                **self.presenter.result(card),
            )["ts"]
        )
        if posted.outcome == "sent":
            result_ts = posted.reply
        elif posted.outcome == "retry":
            return self._retry_close(checkin, now, posted.error)
        elif posted.outcome == "gone":
            outcome = "removed"  # close anyway: the hashes must not outlive the check-in
        else:
            logger.error(
                "experiments: Slack did not answer in time when check-in %s's result was posted; not retried",
                checkin.id,
            )
            outcome = "failed"
        self.repo.finish_close(team, checkin.id, result_ts, result.responses, result.counts, now)
        logger.info("experiments: check-in %s in %s closed", checkin.id, checkin.channel_id)
        if result_ts is not None and checkin.message_ts:
            try:
                self.client.chat_update(
                    channel=checkin.channel_id, ts=checkin.message_ts, **self.presenter.closed_checkin(card)
                )
            except (SlackApiError, SlackClientError, OSError) as exc:
                logger.warning(
                    "experiments: could not mark check-in %s closed (%s)", checkin.id, api_error(exc)
                )
        return outcome

    def _retry_close(self, checkin: Checkin, now: datetime, why: str) -> str:
        self.repo.release_close(checkin.team_id, checkin.id, now + timedelta(minutes=2))
        logger.warning("experiments: could not post check-in %s's result (%s); will retry", checkin.id, why)
        return "failed"

    # ---- the minute tick -----------------------------------------------------------------------
    def tick(self, now: datetime | None = None, stopping: threading.Event | None = None) -> Report:
        now = now or self.clock()
        return run_steps("experiments", (self.send_due, self.close_due), now, stopping)
