"""A click on the weekly poll: record that person's answer anonymously, confirm it to them only.

Nothing here logs or posts a user id next to an answer: the id is used once to build the keyed
hash that lets the person change their answer, and as the address of their private confirmation.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import ids
from bot.deps import Deps
from bot.services.aggregation import NOTHING, parse_choice
from bot.storage.workspace import Workspace
from bot.views import pulse as views


def parse_click(action: dict) -> tuple[int, str, str | int]:
    """(poll id, field, value) from a poll button or select. Raises ValueError."""
    match = ids.PULSE_ACTION.match(str(action.get("action_id", "")))
    if not match:
        raise ValueError("not a pulse action")
    field = match.group(1)
    raw = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
    poll_part, _, choice = str(raw).partition(":")
    if not poll_part.isdigit():
        raise ValueError("no poll id")
    return int(poll_part), field, parse_choice(field, choice)


def vote(deps: Deps):
    def handle_vote(
        ack: Ack, body: dict, action: dict, context, client: WebClient, logger: logging.Logger
    ) -> None:
        ack()
        user_id = (body.get("user") or {}).get("id") or ""
        container = body.get("container") or {}
        channel_id = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
        message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts") or ""
        try:
            poll_id, field, value = parse_click(action)
            if field == "cause" and value != NOTHING and deps.playbook.get(str(value)) is None:
                raise ValueError("unknown cause")
        except ValueError:
            logger.warning("pulse: a click with an unexpected value was ignored")
            return
        if not user_id or not channel_id:
            logger.warning("pulse: a click without a user or channel was ignored")
            return
        service = deps.pulse(client, Workspace.from_context(context))
        try:
            result = service.vote(
                poll_id, user_id, field, value, channel_id=channel_id, message_ts=message_ts
            )
        except Exception as exc:  # no traceback: it could carry the answer being written
            logger.error("pulse: could not record an answer in poll %s (%s)", poll_id, type(exc).__name__)
            _tell(
                client,
                channel_id,
                user_id,
                views.text_message("Sorry, I couldn't save that. Please try again."),
                logger,
            )
            return
        if result.status == "ok":
            channel = service.repo.channel(result.channel_id)
            tz = channel.timezone if channel else deps.settings.pulse_timezone
            reply = views.vote_confirmation(result.answer, result.closes_at, tz, deps.playbook)
        elif result.status == "elsewhere":
            logger.warning("pulse: a click on poll %s from outside its message was not counted", poll_id)
            reply = views.not_this_poll_reply()
        else:
            reply = views.poll_closed_reply()
        _tell(client, channel_id, user_id, reply, logger)
        if result.status == "ok" and result.first:
            try:
                service.refresh_count(poll_id)
            except (SlackApiError, SlackClientError, OSError) as exc:
                logger.warning(
                    "pulse: could not update the count on poll %s (%s)", poll_id, type(exc).__name__
                )

    return handle_vote


def _tell(client: WebClient, channel_id: str, user_id: str, reply: dict, logger: logging.Logger) -> None:
    """Only the person who clicked sees this."""
    try:
        client.chat_postEphemeral(channel=channel_id, user=user_id, **reply)
    except (SlackApiError, SlackClientError, OSError) as exc:
        logger.warning("pulse: could not confirm an answer in %s (%s)", channel_id, type(exc).__name__)
