"""@Truce <message>: diagnose it and answer in the thread of the mention."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.deps import Deps
from bot.services.diagnose import counted_channel
from bot.slack_calls import call
from bot.views.diagnosis import diagnosis_message, error_message


def handler(deps: Deps):
    def handle_app_mention(event: dict, context, client: WebClient, logger: logging.Logger) -> None:
        channel = event.get("channel")
        if not channel:
            logger.warning("app_mention without a channel; ignored")
            return
        thread_ts = event.get("thread_ts") or event.get("ts")
        finding = None
        try:
            finding = deps.diagnoser.diagnose(event.get("text") or "", context.bot_user_id)
            reply = diagnosis_message(
                finding, deps.playbook, surface="mention", asker=event.get("user") or ""
            )
        except Exception:
            logger.exception("could not diagnose a mention in %s", channel)
            reply = error_message()
        posted = call(
            logger,
            client.chat_postMessage,
            "chat.postMessage",
            channel,
            channel=channel,
            thread_ts=thread_ts,
            unfurl_links=False,
            **reply,
        )
        if posted is None or finding is None:
            return
        try:
            deps.repo.record_diagnosis(
                finding.label, "mention", context.team_id or "", counted_channel(channel)
            )
        except Exception:
            logger.exception("could not count a diagnosis")

    return handle_app_mention
