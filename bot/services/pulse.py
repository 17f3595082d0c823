"""The weekly pulse's lifecycle — send, remind, close, vote — against a PulseRepository and a Slack
WebClient. The scheduler, the operator commands and `/pulse now` all go through `PulseService`, so
they behave the same way.

What the messages look like is not this module's business: it hands plain data (`PollCard`,
`ReminderCard`, `PulseSummary`) to a `PulsePresenter` it is given (bot/presenters/pulse.py builds
Block Kit from them), and never imports bot.views. Schedules live in bot/services/schedule.py,
anonymity and aggregation in bot/services/aggregation.py.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.services.aggregation import PulseResults, TrendPoint, aggregate, trend, voter_hash
from bot.services.schedule import Schedule, trend_periods
from bot.settings import Settings
from bot.slack_calls import api_error
from bot.storage.models import PulseChannel, PulsePoll
from bot.storage.pulse_repository import PulseRepository, Vote

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # longer than one post can take, rate-limit waits included
MAX_ATTEMPTS = 8
DISCOVER_EVERY = timedelta(hours=1)
# Slack's answers that mean "Truce is not in that channel any more": skip it, do not retry.
GONE_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived", "team_access_not_granted"}
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Attempt:
    """What one post that must never be doubled came to: `outcome` is sent (`reply` is Slack's
    answer) | gone (Truce is no longer in the channel) | timeout (Slack may have posted it: do not
    retry, see bot/slack_calls.py) | retry (worth another try later); `error` says why."""

    outcome: str
    reply: Any = None
    error: str = ""


def post_once(post: Callable[[], Any]) -> Attempt:
    """Run `post()` once and sort what happened into an Attempt (polls, reminders, check-ins, results)."""
    try:
        return Attempt("sent", post())
    except SlackApiError as exc:
        error = exc.response.get("error", "")
        return Attempt("gone" if error in GONE_ERRORS else "retry", error=error)
    except TimeoutError:
        return Attempt("timeout", error="timeout")
    except (SlackClientError, OSError) as exc:
        return Attempt("retry", error=_why(exc))


# ---- what gets posted, as data ---------------------------------------------------------------------
@dataclass(frozen=True)
class PollCard:
    """The open poll message: its id, how many answered so far, when it closes (in `timezone`)."""

    poll_id: int
    responses: int
    closes_at: datetime
    timezone: str


@dataclass(frozen=True)
class ReminderCard:
    responses: int
    closes_at: datetime
    timezone: str
    min_responses: int


@dataclass(frozen=True)
class PulseSummary:
    """A closed poll's published results and the trend that ends with it."""

    poll: PulsePoll
    results: PulseResults
    points: list[TrendPoint]

    @property
    def period_key(self) -> str:
        return self.poll.period_key


@dataclass(frozen=True)
class Upload:
    """A file to attach in the summary's thread."""

    content: bytes
    filename: str
    title: str
    alt_text: str


class PulsePresenter(Protocol):
    """Turns the lifecycle's data into Slack message arguments (text, blocks)."""

    def poll(self, card: PollCard) -> dict: ...

    def reminder(self, card: ReminderCard) -> dict: ...

    def summary(self, summary: PulseSummary) -> dict: ...

    def closed_poll(self, responses: int) -> dict: ...

    def chart(self, summary: PulseSummary) -> Upload | None: ...


# ---- the lifecycle -----------------------------------------------------------------------------
@dataclass
class Report:
    """What one run of a job did, for the operator and the exit code."""

    counts: Counter = field(default_factory=Counter)

    def add(self, outcome: str) -> None:
        self.counts[outcome] += 1

    @property
    def ok(self) -> bool:
        return self.counts["failed"] == 0

    def line(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in sorted(self.counts.items())) or "nothing to do"


class PulseService:
    def __init__(
        self,
        settings: Settings,
        repo: PulseRepository,
        client: WebClient,
        presenter: PulsePresenter,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.settings = settings
        self.repo = repo
        self.client = client
        self.presenter = presenter
        self.clock = clock
        self._discovered_at: datetime | None = None

    @property
    def close_after(self) -> timedelta:
        return timedelta(days=self.settings.pulse_close_after_days)

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.settings.pulse_grace_hours)

    # ---- channels ------------------------------------------------------------------------------
    def opt_in(
        self, channel_id: str, team_id: str = "", now: datetime | None = None
    ) -> tuple[PulseChannel, bool]:
        schedule = Schedule.default(self.settings)
        return self.repo.opt_in(
            channel_id, team_id, schedule.weekday, schedule.time, schedule.timezone, now or self.clock()
        )

    def discover(self, now: datetime | None = None) -> int:
        """Opt in channels Truce was added to while it was not listening (users.conversations)."""
        now = now or self.clock()
        found = 0
        try:
            cursor = None
            while True:
                page = self.client.users_conversations(
                    types="public_channel,private_channel", exclude_archived=True, limit=200, cursor=cursor
                )
                for channel in page.get("channels") or []:
                    known = self.repo.channel(channel["id"])
                    if known is None or not known.member:
                        self.opt_in(channel["id"], channel.get("context_team_id") or "", now)
                        found += 1
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning("could not list Truce's channels (%s); using the ones already known", _why(exc))
        self._discovered_at = now
        if found:
            logger.info("pulse: %d channel(s) Truce is in were opted in", found)
        return found

    def _mark_gone(self, channel_id: str, error: str) -> None:
        self.repo.set_member(channel_id, False)
        logger.warning("pulse: Truce is no longer in channel %s (%s); skipped", channel_id, error)

    # ---- send ----------------------------------------------------------------------------------
    def send_poll(self, channel: PulseChannel, period: str, now: datetime, retry_failed: bool = False) -> str:
        """Post (channel, period)'s poll unless it was posted already. Returns the outcome:
        sent | already | failed | removed."""
        closes_at = now + self.close_after
        poll = self.repo.claim_poll(channel.channel_id, period, now, closes_at, now + LEASE, retry_failed)
        if poll is None:
            return "already"
        schedule = Schedule.of(channel)
        posted = post_once(
            lambda: self.client.chat_postMessage(
                channel=channel.channel_id,
                unfurl_links=False,
                **self.presenter.poll(PollCard(poll.id, 0, closes_at, schedule.timezone)),
            )
        )
        if posted.outcome == "gone":
            self._mark_gone(channel.channel_id, posted.error)
            self.repo.give_up(poll.id)
            return "removed"
        if posted.outcome == "retry":
            return self._retry_poll(poll, now, posted.error)
        if posted.outcome == "timeout":
            # Slack may have posted it: a second poll is worse than a logged miss (see bot/slack_calls.py).
            self.repo.give_up(poll.id)
            logger.error(
                "pulse: Slack did not answer in time when poll %s was posted in %s, so it may be missing; "
                "not retried, to avoid a duplicate (`python -m bot pulse send --channel %s` posts it)",
                poll.id,
                channel.channel_id,
                channel.channel_id,
            )
            return "failed"
        self.repo.mark_open(poll.id, posted.reply["ts"], now, closes_at)
        logger.info("pulse: poll %s posted in %s for %s", poll.id, channel.channel_id, period)
        return "sent"

    def _retry_poll(self, poll: PulsePoll, now: datetime, why: str) -> str:
        if poll.attempts >= MAX_ATTEMPTS:
            self.repo.give_up(poll.id)
            logger.error(
                "pulse: gave up posting poll %s in %s after %d attempts (%s)",
                poll.id,
                poll.channel_id,
                poll.attempts,
                why,
            )
        else:
            wait = timedelta(minutes=min(60, 2 ** (poll.attempts - 1)))
            self.repo.retry_later(poll.id, now + wait)
            logger.warning(
                "pulse: could not post poll %s in %s (%s); retrying in %d min",
                poll.id,
                poll.channel_id,
                why,
                wait.total_seconds() // 60,
            )
        return "failed"

    def due(
        self, now: datetime, channels: list[PulseChannel] | None = None
    ) -> list[tuple[PulseChannel, str]]:
        """Channels whose scheduled run has come (within the grace period) and has no poll yet."""
        candidates = []
        for channel in channels if channels is not None else self.repo.channels():
            schedule = Schedule.of(channel)
            run = schedule.last_run(now)
            if channel.active_since and run < channel.active_since:
                continue
            if now - run > self.grace:
                continue
            candidates.append((channel, schedule.period_of(run)))
        if not candidates:
            return []
        taken = self.repo.periods_taken([c.channel_id for c, _ in candidates], [p for _, p in candidates])
        return [(c, p) for c, p in candidates if (c.channel_id, p) not in taken]

    def send_due(self, now: datetime, stopping: threading.Event | None = None) -> Report:
        report = Report()
        for channel, period in self.due(now):
            if stopping and stopping.is_set():
                break
            report.add(self.send_poll(channel, period, now))
        for poll in self.repo.polls(["pending"]):  # failed attempts whose retry time has come
            if stopping and stopping.is_set():
                break
            if poll.lease_until and poll.lease_until > now:
                continue
            channel = self.repo.channel(poll.channel_id)
            if channel is None or not channel.member or now - poll.opened_at > self.close_after:
                self.repo.give_up(poll.id)
                logger.error(
                    "pulse: poll %s in %s could not be posted in time; gave up", poll.id, poll.channel_id
                )
                report.add("failed")
                continue
            report.add(self.send_poll(channel, poll.period_key, now))
        return report

    def send_now(self, channel_ids: Iterable[str] | None = None, now: datetime | None = None) -> Report:
        """Post this period's poll in the given (default: every active) channel, once per period."""
        now = now or self.clock()
        if channel_ids is None:
            self.discover(now)
            channels = self.repo.channels()
        else:
            wanted = list(channel_ids)
            channels = [c for c in self.repo.channels(wanted, active=False) if c.member]
            for missing in sorted(set(wanted) - {c.channel_id for c in channels}):
                logger.warning("pulse: channel %s is not one Truce is in; skipped", missing)
        report = Report()
        for channel in channels:
            report.add(self.send_poll(channel, Schedule.of(channel).period_of(now), now, retry_failed=True))
        return report

    def next_poll(self, channel: PulseChannel, now: datetime) -> datetime:
        """When the schedule will next post: a run whose week already has a poll is skipped."""
        schedule = Schedule.of(channel)
        run = schedule.next_run(now)
        if self.repo.poll_for(channel.channel_id, schedule.period_of(run)) is not None:
            run = schedule.next_run(run)
        return run

    # ---- votes ---------------------------------------------------------------------------------
    def vote(
        self,
        poll_id: int,
        user_id: str,
        field_name: str,
        value: str | int,
        now: datetime | None = None,
        *,
        channel_id: str,
        message_ts: str,
    ) -> Vote:
        """Record one click. `channel_id` and `message_ts` are where the click came from: a button
        value copied into another message (or channel) is not an answer to the poll."""
        voter = voter_hash(self.settings.pulse_hash_key, poll_id, user_id)
        return self.repo.record_answer(
            poll_id,
            voter,
            field_name,
            value,
            now or self.clock(),
            channel_id=channel_id,
            message_ts=message_ts,
        )

    def refresh_count(self, poll_id: int) -> None:
        """Show the new number of responses on the poll message (the number only)."""
        poll = self.repo.poll(poll_id)
        if poll is None or poll.status != "open" or not poll.message_ts:
            return
        channel = self.repo.channel(poll.channel_id)
        tz = channel.timezone if channel else self.settings.pulse_timezone
        count = self.repo.response_count(poll_id)
        self.client.chat_update(
            channel=poll.channel_id,
            ts=poll.message_ts,
            **self.presenter.poll(PollCard(poll.id, count, poll.closes_at, tz)),
        )

    # ---- remind --------------------------------------------------------------------------------
    def remind_due(self, now: datetime, channel_ids=None, force: bool = False, stopping=None) -> Report:
        report = Report()
        for poll in self.repo.polls(["open"], channel_ids):
            if stopping and stopping.is_set():
                break
            if poll.reminder_sent or poll.closes_at <= now:
                continue
            if not force and now < poll.opened_at + (poll.closes_at - poll.opened_at) / 2:
                continue
            report.add(self.remind(poll, now))
        return report

    def remind(self, poll: PulsePoll, now: datetime) -> str:
        if not self.repo.claim_reminder(poll.id):
            return "already"
        channel = self.repo.channel(poll.channel_id)
        tz = channel.timezone if channel else self.settings.pulse_timezone
        count = self.repo.response_count(poll.id)
        posted = post_once(
            lambda: self.client.chat_postMessage(
                channel=poll.channel_id,
                thread_ts=poll.message_ts,
                reply_broadcast=True,
                **self.presenter.reminder(
                    ReminderCard(count, poll.closes_at, tz, self.settings.pulse_min_responses)
                ),
            )
        )
        if posted.outcome == "gone":
            self._mark_gone(poll.channel_id, posted.error)
            return "removed"
        if posted.outcome == "timeout":
            logger.error(
                "pulse: Slack did not answer in time when reminding in %s; not retried", poll.channel_id
            )
            return "failed"
        if posted.outcome == "retry":
            self.repo.unclaim_reminder(poll.id)
            logger.warning("pulse: could not remind in %s (%s); will retry", poll.channel_id, posted.error)
            return "failed"
        logger.info("pulse: reminder posted for poll %s in %s", poll.id, poll.channel_id)
        return "reminded"

    # ---- close ---------------------------------------------------------------------------------
    def close_due(self, now: datetime, channel_ids=None, force: bool = False, stopping=None) -> Report:
        report = Report()
        erased = False
        for poll in self.repo.polls(["open"], channel_ids):
            if stopping and stopping.is_set():
                break
            if not force and poll.closes_at > now:
                continue
            outcome, done = self._close(poll, now, force)
            report.add(outcome)
            erased = erased or done
        if erased:
            self.purge_erased()
        return report

    def purge_erased(self) -> None:
        """Once per batch of closes: the erased hashes leave the database files too (see
        PulseRepository.purge_erased). A failure leaves them in free space until the next close."""
        try:
            self.repo.purge_erased()
        except Exception as exc:
            logger.warning(
                "pulse: erased voter hashes may linger in the database files until the next close (%s)",
                type(exc).__name__,
            )

    def results_for(self, poll: PulsePoll) -> PulseResults:
        return aggregate(self.repo.answers(poll.id), self.settings.pulse_min_responses)

    def summary_for(self, poll: PulsePoll, results: PulseResults | None = None) -> PulseSummary:
        """The poll's published results (computed now unless given) with the trend ending with it."""
        results = results if results is not None else self.results_for(poll)
        periods = trend_periods(poll.period_key)
        history = self.repo.closed_between(poll.channel_id, periods[0], periods[-1])
        points = trend(poll.period_key, [p for p in history if p.id != poll.id], results)
        return PulseSummary(poll, results, points)

    def close(self, poll: PulsePoll, now: datetime, force: bool = False) -> str:
        """Post the summary, keep the aggregates, erase the voter hashes. Returns the outcome:
        closed | already | failed | removed."""
        outcome, erased = self._close(poll, now, force)
        if erased:
            self.purge_erased()
        return outcome

    def _close(self, poll: PulsePoll, now: datetime, force: bool) -> tuple[str, bool]:
        """close() without the purge: (outcome, whether the hashes were erased)."""
        if not self.repo.claim_close(poll.id, now, now + LEASE, force):
            return "already", False
        results = self.results_for(poll)
        summary = self.summary_for(poll, results)
        summary_ts = None
        outcome = "closed"
        posted = post_once(
            lambda: self.client.chat_postMessage(
                channel=poll.channel_id, unfurl_links=False, **self.presenter.summary(summary)
            )["ts"]
        )
        if posted.outcome == "sent":
            summary_ts = posted.reply
        elif posted.outcome == "retry":
            return self._retry_close(poll, now, posted.error), False
        elif posted.outcome == "gone":
            self._mark_gone(poll.channel_id, posted.error)
            outcome = "removed"  # close it anyway: the hashes must not outlive the poll
        else:
            # Slack may have posted it; close without retrying rather than risk a second summary.
            logger.error(
                "pulse: Slack did not answer in time when the summary of poll %s was posted in %s, so it may "
                "be missing; not retried, to avoid a duplicate (`/pulse results` there shows the results)",
                poll.id,
                poll.channel_id,
            )
            outcome = "failed"
        self.repo.finish_close(poll.id, summary_ts, results.responses, results.avg_score, now)
        logger.info("pulse: poll %s in %s closed", poll.id, poll.channel_id)
        if summary_ts is None:
            return outcome, True
        self._mark_poll_closed(poll, results.responses)
        self._upload_chart(summary, summary_ts)
        return outcome, True

    def _retry_close(self, poll: PulsePoll, now: datetime, why: str) -> str:
        self.repo.release_close(poll.id, now + timedelta(minutes=2))
        logger.warning(
            "pulse: could not post the summary of poll %s in %s (%s); will retry",
            poll.id,
            poll.channel_id,
            why,
        )
        return "failed"

    def _mark_poll_closed(self, poll: PulsePoll, responses: int) -> None:
        if not poll.message_ts:
            return
        try:
            self.client.chat_update(
                channel=poll.channel_id, ts=poll.message_ts, **self.presenter.closed_poll(responses)
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning("pulse: could not mark poll %s closed on its message (%s)", poll.id, _why(exc))

    def _upload_chart(self, summary: PulseSummary, summary_ts: str) -> None:
        poll = summary.poll
        try:
            upload = self.presenter.chart(summary)
            if upload is None:
                return
            self.client.files_upload_v2(
                channel=poll.channel_id,
                thread_ts=summary_ts,
                file=upload.content,
                filename=upload.filename,
                title=upload.title,
                alt_txt=upload.alt_text,
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning(
                "pulse: chart for poll %s not uploaded (%s); the summary text has the same facts",
                poll.id,
                _why(exc),
            )
        except Exception:
            logger.exception("pulse: could not draw the chart for poll %s", poll.id)

    # ---- the minute tick -----------------------------------------------------------------------
    def tick(self, now: datetime | None = None, stopping: threading.Event | None = None) -> Report:
        """Everything the clock does each minute: due polls, reminders, closes. Safe to run anywhere,
        any number of times: every step is claimed in the database first."""
        now = now or self.clock()
        if self._discovered_at is None or now - self._discovered_at >= DISCOVER_EVERY:
            self.discover(now)
        return run_steps("pulse", (self.send_due, self.remind_due, self.close_due), now, stopping)


def run_steps(
    name: str, steps: Iterable[Callable[..., Report]], now: datetime, stopping: threading.Event | None
) -> Report:
    """One minute tick of `name` (pulse, experiments): each step in turn, until `stopping`; a step
    that raises is logged and counted as failed, and the next step still runs."""
    report = Report()
    for step in steps:
        if stopping and stopping.is_set():
            break
        try:
            report.counts.update(step(now, stopping=stopping).counts)
        except Exception:
            logger.exception("%s: %s failed; the next tick tries again", name, step.__name__)
            report.add("failed")
    return report


def _why(exc: Exception) -> str:
    return api_error(exc)
