"""When the weekly pulse runs: schedules on local wall-clock time, ISO-week periods, and the
schedule a person types (`fri 15:00 Europe/Berlin`). Pure: no Slack, no database."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.settings import WEEKDAYS, Settings, parse_time

if TYPE_CHECKING:
    from bot.storage.models import PulseChannel

TREND_WEEKS = 8


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
