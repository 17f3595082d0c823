"""Inviting Truce opts a channel into the weekly pulse; removing it stops the pulse there."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.deps import Deps
from bot.services.schedule import Schedule
from bot.storage.workspace import Workspace
from bot.views.pulse import welcome_message


def joined(deps: Deps):
    def handle_member_joined(event: dict, context, client: WebClient, logger: logging.Logger) -> None:
        if not context.bot_user_id or event.get("user") != context.bot_user_id:
            return  # someone else joined; the pulse does not track people
        channel_id = event.get("channel")
        if not channel_id:
            return
        try:
            row, new = deps.pulse(client, Workspace.from_context(context)).opt_in(
                channel_id, context.team_id or event.get("team") or ""
            )
        except Exception:
            logger.exception("pulse: could not opt channel %s in", channel_id)
            return
        logger.info("pulse: Truce joined %s; the weekly pulse is on there", channel_id)
        if not new:
            return
        try:
            client.chat_postMessage(channel=channel_id, **welcome_message(Schedule.of(row)))
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning("pulse: could not say hello in %s (%s)", channel_id, type(exc).__name__)

    return handle_member_joined


def left(deps: Deps):
    def handle_left(event: dict, context, logger: logging.Logger) -> None:
        channel_id = event.get("channel")
        if not channel_id:
            return
        try:
            if deps.pulse_of(Workspace.from_context(context)).set_member(channel_id, False):
                logger.info("pulse: Truce was removed from %s; no more polls there", channel_id)
        except Exception:
            logger.exception("pulse: could not record leaving %s", channel_id)

    return handle_left
