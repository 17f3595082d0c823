"""A DM to Truce (its Messages tab): private coaching, the same diagnosis as a mention.

Only people's new messages are answered: Truce's own messages, other bots, edits, deletions and every
other subtype are ignored, so Truce never answers itself.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.deps import Deps
from bot.listeners.events.answering import asked_from_event, reply_to

SURFACE = "dm"


def is_person_writing_to_truce(event: dict, bot_user_id: str | None, bot_id: str | None) -> bool:
    if event.get("channel_type") != "im":
        return False
    if event.get("subtype") or event.get("bot_id") or event.get("bot_profile"):
        return False
    user = event.get("user")
    if not user or user == bot_user_id:
        return False
    return bool(event.get("channel") and event.get("ts"))


def is_for_truce(event: dict, context) -> bool:
    """Bolt matcher: only a person's new DM is handed on to be answered."""
    return is_person_writing_to_truce(event, context.bot_user_id, context.bot_id)


def handler(deps: Deps):
    def handle_message(event: dict, context, client: WebClient, logger: logging.Logger) -> None:
        if not is_person_writing_to_truce(event, context.bot_user_id, context.bot_id):
            return
        asked = asked_from_event(event, context)
        # In a DM thread Truce reads the thread for context; a top-level DM is answered on its own words.
        reply_to(
            deps,
            client,
            asked,
            SURFACE,
            reply_thread_ts=event.get("thread_ts"),
            logger=logger,
            read_channel=False,
        )

    return handle_message
