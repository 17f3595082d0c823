"""@Truce in a channel: read what was asked about (the mention, its thread, or the channel's last
hour), diagnose it, and answer in the thread of the mention."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.deps import Deps
from bot.listeners.events.answering import reply_to
from bot.services.ask import Asked


def handler(deps: Deps):
    def handle_app_mention(event: dict, context, client: WebClient, logger: logging.Logger) -> None:
        channel = event.get("channel")
        if not channel or not event.get("ts"):
            logger.warning("app_mention without a channel or ts; ignored")
            return
        asked = Asked(
            team=context.team_id or "",
            channel=channel,
            user=event.get("user") or "",
            text=event.get("text") or "",
            ts=event["ts"],
            thread_ts=event.get("thread_ts"),
            bot_user_id=context.bot_user_id,
            bot_id=context.bot_id,
        )
        reply_to(
            deps, client, asked, surface="mention", reply_thread_ts=asked.thread_ts or asked.ts, logger=logger
        )

    return handle_app_mention
