"""The weekly pulse: schedule math, anonymous aggregation, and the poll lifecycle.

Pure parts (schedules, periods, voter hashes, aggregation) come first and need no Slack or database.
`PulseService` then runs the lifecycle — send, remind, close — against a PulseRepository and a Slack
WebClient; the scheduler, the operator commands and `/pulse now` all go through it, so they behave
the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.settings import WEEKDAYS, Settings, parse_time
from bot.slack_calls import api_error
from bot.storage.models import PulseChannel, PulsePoll
from bot.storage.pulse_repository import Answer, PulseRepository, Vote
from bot.views import pulse as views
from model.playbook import Playbook

logger = logging.getLogger(__name__)

SIDES = ("sales", "marketing", "other")
NOTHING = "nothing"
SCORES = (1, 2, 3, 4, 5)
TREND_WEEKS = 8
LEASE = timedelta(minutes=10)  # longer than one post can take, rate-limit waits included
MAX_ATTEMPTS = 8
DISCOVER_EVERY = timedelta(hours=1)
# Slack's answers that mean "Truce is not in that channel any more": skip it, do not retry.
GONE_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived", "team_access_not_granted"}
)


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---- schedules ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    weekday: int  # 0 = Monday
    time: str  # "HH:MM", local
    timezone: str  # IANA name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def of(cls, channel: PulseChannel) -> Schedule:
        return cls(channel.weekday, channel.time, channel.timezone)

    @classmethod
    def default(cls, settings: Settings) -> Schedule:
        return cls(settings.pulse_weekday, settings.pulse_time, settings.pulse_timezone)

    def run_on(self, day: date) -> datetime:
        """The UTC instant of the run on local date `day`. A wall time the clock skips (spring
        forward) runs that much later; one it repeats (fall back) runs the first time."""
        hour, minute = parse_time(self.time)
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone).astimezone(UTC)

    def last_run(self, now: datetime) -> datetime:
        """The latest scheduled run at or before `now` (UTC)."""
        local = now.astimezone(self.zone)
        day = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        run = self.run_on(day)
        if run > now:
            run = self.run_on(day - timedelta(days=7))
        return run

    def next_run(self, now: datetime) -> datetime:
        """The first scheduled run strictly after `now` (UTC), on local wall-clock time."""
        last = self.last_run(now)
        return self.run_on(last.astimezone(self.zone).date() + timedelta(days=7))

    def period_of(self, moment: datetime) -> str:
        return period_key(moment.astimezone(self.zone).date())


def period_key(day: date) -> str:
    """The poll period: the ISO week of the local date, e.g. 2026-W14."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def period_monday(key: str) -> date:
    year, week = key.split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def trend_periods(last_key: str, weeks: int = TREND_WEEKS) -> list[str]:
    """The `weeks` consecutive periods ending with `last_key`, oldest first."""
    monday = period_monday(last_key)
    return [period_key(monday - timedelta(weeks=n)) for n in range(weeks - 1, -1, -1)]


_DAY_NAMES = (
    {name: i for i, name in enumerate(WEEKDAYS)}
    | {
        full: i
        for i, full in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    }
    | {"tues": 1, "thur": 3, "thurs": 3}
)


def find_timezone(name: str) -> str | None:
    """An IANA zone name as written by a person (any case), or None. Whatever was typed, the answer
    is a name or None: a folder of the zone database ("America") or an unreadable file is no zone."""
    name = name.strip()
    try:
        ZoneInfo(name)
        return name
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    lowered = name.lower()
    return next((z for z in sorted(zoneinfo.available_timezones()) if z.lower() == lowered), None)


def parse_clock(text: str) -> str:
    """'15:00', '9:30', '3pm', '3:30pm' -> 'HH:MM'. Raises ValueError."""
    raw = text.strip().lower()
    suffix = raw[-2:] if raw.endswith(("am", "pm")) else ""
    core = raw[: -len(suffix)] if suffix else raw
    if ":" not in core:
        core += ":00"
    hour, minute = parse_time(core)
    if suffix:
        if not 1 <= hour <= 12:
            raise ValueError(f"{text!r} is not a time like 15:00")
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    return f"{hour:02d}:{minute:02d}"


class ScheduleError(ValueError):
    """A schedule a person typed that can't be read. `word` is what they typed (shown back to them,
    escaped, by the view), `complaint` what is wrong with it."""

    def __init__(self, complaint: str, word: str = ""):
        super().__init__(f"`{word}` {complaint}" if word else complaint)
        self.complaint = complaint
        self.word = word


def parse_schedule(words: list[str], default_tz: str) -> Schedule:
    """`fri 15:00 [Europe/Berlin]` -> Schedule. Raises ScheduleError saying what is wrong."""
    if len(words) not in (2, 3):
        raise ScheduleError("Give a day and a time, and optionally a timezone: `fri 15:00 Europe/Berlin`.")
    day = _DAY_NAMES.get(words[0].lower().rstrip("."))
    if day is None:
        raise ScheduleError("is not a weekday; use mon, tue, wed, thu, fri, sat or sun.", words[0])
    try:
        clock = parse_clock(words[1])
    except ValueError:
        raise ScheduleError("is not a time; use 24-hour time like `15:00`.", words[1]) from None
    tz = default_tz
    if len(words) == 3:
        found = find_timezone(words[2])
        if found is None:
            raise ScheduleError("is not a timezone I know; use an IANA name like `Europe/Berlin`.", words[2])
        tz = found
    return Schedule(day, clock, tz)


# ---- anonymity ---------------------------------------------------------------------------------
def voter_hash(key: str, poll_id: int, user_id: str) -> str:
    """A keyed hash that lets one person change their answer without storing who they are.
    Different for every poll, useless without the secret key, and erased when the poll closes."""
    return hmac.new(key.encode(), f"{poll_id}:{user_id}".encode(), hashlib.sha256).hexdigest()


def parse_choice(field_name: str, raw: str) -> str | int:
    """Validate one answer value from a click. Raises ValueError."""
    if field_name == "side" and raw in SIDES:
        return raw
    if field_name == "score" and raw.isdigit() and int(raw) in SCORES:
        return int(raw)
    if field_name == "cause" and raw:
        return raw
    raise ValueError(f"bad {field_name} answer")


def _safe_split(groups: Counter, shown: tuple[str, ...], k: int) -> bool:
    """May per-group figures for `shown` be published? Each shown group needs k people, and what
    is left over must be empty or k strong too — else subtracting from the total singles people out."""
    if any(groups.get(name, 0) < k for name in shown):
        return False
    rest = sum(count for name, count in groups.items() if name not in shown)
    return rest == 0 or rest >= k


@dataclass(frozen=True)
class CauseGap:
    cause: str
    sales: float  # share of Sales answers naming the cause, 0..1
    marketing: float

    @property
    def gap(self) -> float:
        return self.sales - self.marketing


@dataclass(frozen=True)
class Breakdown:
    """Per-side figures, only ever built when every side shown has enough people."""

    counts: dict[str, int]
    avg_scores: dict[str, float] | None
    gaps: tuple[CauseGap, ...] | None


@dataclass(frozen=True)
class PulseResults:
    responses: int
    min_responses: int
    avg_score: float | None = None
    scored: int = 0
    top_causes: tuple[tuple[str, int], ...] = ()
    cause_answers: int = 0
    nothing: int = 0
    breakdown: Breakdown | None = None

    @property
    def shown(self) -> bool:
        return self.responses >= self.min_responses

    @property
    def top_cause(self) -> str | None:
        return self.top_causes[0][0] if self.top_causes else None


def aggregate(answers: list[Answer], min_responses: int) -> PulseResults:
    """What may be published about a poll's answers, and nothing more."""
    k = max(3, min_responses)
    n = len(answers)
    if n < k:
        return PulseResults(responses=n, min_responses=k)
    scores = [a.score for a in answers if a.score is not None]
    causes = [a.cause for a in answers if a.cause]
    avg = sum(scores) / len(scores) if len(scores) >= k else None
    named = Counter(c for c in causes if c != NOTHING)
    top = tuple(sorted(named.items(), key=lambda item: (-item[1], item[0])))[:3] if len(causes) >= k else ()
    return PulseResults(
        responses=n,
        min_responses=k,
        avg_score=avg,
        scored=len(scores),
        top_causes=top,
        cause_answers=len(causes),
        nothing=causes.count(NOTHING) if len(causes) >= k else 0,
        breakdown=_breakdown(answers, k),
    )


def _breakdown(answers: list[Answer], k: int) -> Breakdown | None:
    pair = ("sales", "marketing")
    sides = Counter(a.side or "unknown" for a in answers)
    if not _safe_split(sides, pair, k):
        return None
    scored = Counter(a.side or "unknown" for a in answers if a.score is not None)
    avg_scores = None
    if _safe_split(scored, pair, k):
        avg_scores = {
            side: sum(a.score for a in answers if a.side == side and a.score is not None) / scored[side]
            for side in pair
        }
    with_cause = Counter(a.side or "unknown" for a in answers if a.cause)
    gaps = None
    if _safe_split(with_cause, pair, k):
        named = {a.cause for a in answers if a.cause and a.cause != NOTHING and a.side in pair}
        share = {side: Counter(a.cause for a in answers if a.side == side and a.cause) for side in pair}
        gaps = tuple(
            sorted(
                (
                    CauseGap(
                        c,
                        share["sales"][c] / with_cause["sales"],
                        share["marketing"][c] / with_cause["marketing"],
                    )
                    for c in named
                ),
                key=lambda g: (-abs(g.gap), g.cause),
            )
        )[:3]
    return Breakdown(counts={side: sides[side] for side in pair}, avg_scores=avg_scores, gaps=gaps)


@dataclass(frozen=True)
class TrendPoint:
    period_key: str
    avg_score: float | None  # None: no poll, or too few answers to show
    responses: int | None  # None: no poll that week


def trend(last_key: str, closed: list[PulsePoll], current: PulseResults | None = None) -> list[TrendPoint]:
    """Eight weeks ending with `last_key`, from closed polls' stored aggregates."""
    by_period = {p.period_key: p for p in closed}
    points = []
    for key in trend_periods(last_key):
        if key == last_key and current is not None:
            points.append(TrendPoint(key, current.avg_score, current.responses))
        elif key in by_period:
            poll = by_period[key]
            points.append(TrendPoint(key, poll.avg_score, poll.responses))
        else:
            points.append(TrendPoint(key, None, None))
    return points


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
        playbook: Playbook,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.settings = settings
        self.repo = repo
        self.client = client
        self.playbook = playbook
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
        try:
            reply = self.client.chat_postMessage(
                channel=channel.channel_id,
                unfurl_links=False,
                **views.poll_message(poll.id, self.playbook, 0, closes_at, schedule.timezone),
            )
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            if error in GONE_ERRORS:
                self._mark_gone(channel.channel_id, error)
                self.repo.give_up(poll.id)
                return "removed"
            return self._retry_poll(poll, now, error)
        except TimeoutError:
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
        except (SlackClientError, OSError) as exc:
            return self._retry_poll(poll, now, _why(exc))
        self.repo.mark_open(poll.id, reply["ts"], now, closes_at)
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
            **views.poll_message(poll.id, self.playbook, count, poll.closes_at, tz),
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
        try:
            self.client.chat_postMessage(
                channel=poll.channel_id,
                thread_ts=poll.message_ts,
                reply_broadcast=True,
                **views.reminder_message(count, poll.closes_at, tz, self.settings.pulse_min_responses),
            )
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            if error in GONE_ERRORS:
                self._mark_gone(poll.channel_id, error)
                return "removed"
            self.repo.unclaim_reminder(poll.id)
            logger.warning("pulse: could not remind in %s (%s); will retry", poll.channel_id, error)
            return "failed"
        except TimeoutError:
            logger.error(
                "pulse: Slack did not answer in time when reminding in %s; not retried", poll.channel_id
            )
            return "failed"
        except (SlackClientError, OSError) as exc:
            self.repo.unclaim_reminder(poll.id)
            logger.warning("pulse: could not remind in %s (%s); will retry", poll.channel_id, _why(exc))
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

    def summary_for(self, poll: PulsePoll, results: PulseResults) -> tuple[dict, list[TrendPoint]]:
        periods = trend_periods(poll.period_key)
        history = self.repo.closed_between(poll.channel_id, periods[0], periods[-1])
        points = trend(poll.period_key, [p for p in history if p.id != poll.id], results)
        return views.summary_message(results, points, self.playbook, poll.period_key), points

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
        summary, points = self.summary_for(poll, results)
        summary_ts = None
        outcome = "closed"
        try:
            summary_ts = self.client.chat_postMessage(channel=poll.channel_id, unfurl_links=False, **summary)[
                "ts"
            ]
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            if error not in GONE_ERRORS:
                return self._retry_close(poll, now, error), False
            self._mark_gone(poll.channel_id, error)
            outcome = "removed"  # close it anyway: the hashes must not outlive the poll
        except TimeoutError:
            # Slack may have posted it; close without retrying rather than risk a second summary.
            logger.error(
                "pulse: Slack did not answer in time when the summary of poll %s was posted in %s, so it may "
                "be missing; not retried, to avoid a duplicate (`/pulse results` there shows the results)",
                poll.id,
                poll.channel_id,
            )
            outcome = "failed"
        except (SlackClientError, OSError) as exc:
            return self._retry_close(poll, now, _why(exc)), False
        self.repo.finish_close(poll.id, summary_ts, results.responses, results.avg_score, now)
        logger.info("pulse: poll %s in %s closed", poll.id, poll.channel_id)
        if summary_ts is None:
            return outcome, True
        self._mark_poll_closed(poll, results.responses)
        self._upload_chart(poll, points, summary_ts)
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
                channel=poll.channel_id, ts=poll.message_ts, **views.closed_poll_message(responses)
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning("pulse: could not mark poll %s closed on its message (%s)", poll.id, _why(exc))

    def _upload_chart(self, poll: PulsePoll, points: list[TrendPoint], summary_ts: str) -> None:
        if not any(p.avg_score is not None for p in points):
            return
        try:
            from bot.services.chart import trend_chart

            png = trend_chart(points)
            self.client.files_upload_v2(
                channel=poll.channel_id,
                thread_ts=summary_ts,
                file=png,
                filename=f"pulse-trend-{poll.period_key}.png",
                title="Pulse score, last 8 weeks",
                alt_txt=views.trend_alt_text(points),
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
        report = Report()
        for step in (self.send_due, self.remind_due, self.close_due):
            if stopping and stopping.is_set():
                break
            try:
                report.counts.update(step(now, stopping=stopping).counts)
            except Exception:
                logger.exception("pulse: %s failed; the next tick tries again", step.__name__)
                report.add("failed")
        return report


def _why(exc: Exception) -> str:
    return api_error(exc)
