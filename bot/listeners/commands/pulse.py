"""/pulse [status | on | off | schedule <day> <time> [tz] | now | results | help]: the channel's pulse.

Looking is private (ephemeral); changing the schedule is answered in the channel, so everyone sees
what changed. Unknown arguments get the usage.
"""

from __future__ import annotations

import logging
from datetime import datetime

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.deps import Deps
from bot.services.pulse import PulseService
from bot.services.schedule import Schedule, ScheduleError, parse_schedule
from bot.storage.models import PulseChannel
from bot.storage.workspace import Workspace
from bot.views import pulse as views
from bot.views.blocks import clip, escape

SUBCOMMANDS = ("status", "on", "off", "schedule", "now", "results")


def handler(deps: Deps):
    def handle_pulse(
        ack: Ack, command: dict, respond: Respond, client: WebClient, context, logger: logging.Logger
    ) -> None:
        text = (command.get("text") or "").strip()
        words = text.split()
        sub = words[0].lower() if words else "status"
        if sub not in SUBCOMMANDS:
            problem = (
                None if sub in ("help", "?", "usage") else f"I don't know `/pulse {escape(clip(text, 60))}`."
            )
            ack(response_type="ephemeral", **views.usage_message(problem))
            return
        ack()
        channel_id = command.get("channel_id") or ""
        try:
            service = deps.pulse(client, Workspace.from_context(context))
            now = deps.clock()
            channel = _channel(
                service, client, channel_id, command.get("team_id") or context.team_id or "", now
            )
            if channel is None:
                reply, public = views.not_member_message(), False
            else:
                reply, public = ACTIONS[sub](service, channel, words[1:], now)
        except Exception:
            logger.exception("could not handle /pulse %s in %s", sub, channel_id)
            reply, public = views.text_message("Sorry, I couldn't do that just now. Please try again."), False
        respond(response_type="in_channel" if public else "ephemeral", replace_original=False, **reply)

    return handle_pulse


def _channel(service: PulseService, client: WebClient, channel_id: str, team_id: str, now: datetime):
    """The channel's pulse row; a channel Truce is in but missed the join event for is opted in now."""
    row = service.repo.channel(channel_id)
    if row is not None and row.member:
        return row
    try:
        info = client.conversations_info(channel=channel_id).get("channel") or {}
    except (SlackApiError, SlackClientError, OSError):
        return None
    if not info.get("is_member"):
        return None
    row, _ = service.opt_in(channel_id, team_id, now)
    return row


def _status(service: PulseService, channel: PulseChannel, words: list[str], now: datetime):
    schedule = Schedule.of(channel)
    current = service.repo.latest_poll(channel.channel_id)
    is_open = current is not None and current.status == "open"
    last = service.repo.latest_closed(channel.channel_id)
    return (
        views.status_message(
            enabled=channel.enabled,
            schedule=schedule,
            next_run=service.next_poll(channel, now),
            open_responses=service.repo.response_count(current.id) if is_open else None,
            open_closes_at=current.closes_at if is_open else None,
            last_period=last.period_key if last else None,
            last_responses=last.responses if last else None,
            last_avg=last.avg_score if last else None,
            min_responses=service.settings.pulse_min_responses,
        ),
        False,
    )


def _on(service: PulseService, channel: PulseChannel, words: list[str], now: datetime):
    service.repo.set_enabled(channel.channel_id, True, now)
    schedule = Schedule.of(channel)
    return (
        views.text_message(
            f":white_check_mark: The weekly pulse is *on* here: {views.schedule_text(schedule)}. "
            f"Next poll: {views.when(service.next_poll(channel, now), schedule.timezone)}."
        ),
        True,
    )


def _off(service: PulseService, channel: PulseChannel, words: list[str], now: datetime):
    service.repo.set_enabled(channel.channel_id, False, now)
    return (
        views.text_message(
            ":pause_button: The weekly pulse is *off* here. A poll that is already open still closes "
            "and reports as usual. `/pulse on` starts it again."
        ),
        True,
    )


def _schedule(service: PulseService, channel: PulseChannel, words: list[str], now: datetime):
    try:
        schedule = parse_schedule(words, channel.timezone)
    except ScheduleError as exc:
        return views.usage_message(views.schedule_problem(exc.complaint, exc.word)), False
    service.repo.set_schedule(channel.channel_id, schedule.weekday, schedule.time, schedule.timezone, now)
    channel = service.repo.channel(channel.channel_id)
    state = "" if channel.enabled else " (the pulse is off here; `/pulse on` starts it)"
    return (
        views.text_message(
            f":calendar: The weekly pulse now runs {views.schedule_text(schedule)}{state}. "
            f"Next poll: {views.when(service.next_poll(channel, now), schedule.timezone)}."
        ),
        True,
    )


def _now(service: PulseService, channel: PulseChannel, words: list[str], now: datetime):
    schedule = Schedule.of(channel)
    period = schedule.period_of(now)
    outcome = service.send_poll(channel, period, now, retry_failed=True)
    if outcome == "sent":
        return views.text_message("Posted this week's pulse in the channel."), False
    if outcome == "removed":
        return views.not_member_message(), False
    if outcome == "failed":
        return views.text_message(
            "Slack didn't take the poll just now; I'll keep trying in the background."
        ), False
    poll = service.repo.poll_for(channel.channel_id, period)
    tz = schedule.timezone
    if poll is not None and poll.status == "open":
        count = service.repo.response_count(poll.id)
        text = (
            f"This week's poll is already open: {views.people(count)} answered so far; it closes "
            f"{views.when(poll.closes_at, tz)}. One poll per week keeps the trend honest."
        )
    elif poll is not None and poll.status == "closed":
        text = (
            "This week's poll has already run; `/pulse results` shows its results. "
            f"The next one: {views.when(service.next_poll(channel, now), tz)}."
        )
    else:
        text = "This week's poll is being posted right now."
    return views.text_message(text), False


def _results(service: PulseService, channel: PulseChannel, words: list[str], now: datetime):
    poll = service.repo.latest_closed(channel.channel_id)
    if poll is None:
        current = service.repo.latest_poll(channel.channel_id)
        if current is not None and current.status == "open":
            text = (
                "No results yet: this week's poll is open and shows results when it closes, "
                f"{views.when(current.closes_at, channel.timezone)}."
            )
        else:
            text = "No results yet: results appear here after the first weekly poll closes."
        return views.text_message(text), False
    return service.presenter.summary(service.summary_for(poll)), False


ACTIONS = {
    "status": _status,
    "on": _on,
    "off": _off,
    "schedule": _schedule,
    "now": _now,
    "results": _results,
}
