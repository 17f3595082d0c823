"""@Truce in a channel: read what was asked about (the mention, its thread, or the channel's last
hour), diagnose it, and answer in the thread of the mention."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.deps import Deps
from bot.listeners.events.answering import asked_from_event, reply_to


def handler(deps: Deps):
    def handle_app_mention(event: dict, context, client: WebClient, logger: logging.Logger) -> None:
        channel = event.get("channel")
        if not channel or not event.get("ts"):
            logger.warning("app_mention without a channel or ts; ignored")
            return
        asked = asked_from_event(event, context)
        reply_to(
            deps, client, asked, surface="mention", reply_thread_ts=asked.thread_ts or asked.ts, logger=logger
        )

    return handle_app_mention
