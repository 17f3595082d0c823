"""Message shortcut "Diagnose friction": a private diagnosis of someone's message.

The answer goes only to the person who used the shortcut: an ephemeral message in that channel, or
a DM from Truce when it can't post there. Never a public post: nobody is called out in front of colleagues.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.services.diagnose import Verdict
from bot.storage.workspace import Workspace
from bot.views.diagnosis import diagnosis_message, error_message
from bot.views.remedy import nothing_to_read_message, private_reply

SURFACE = "shortcut"


def send_privately(
    client: WebClient, channel: str, user: str, reply: dict, thread_ts: str | None, logger: logging.Logger
) -> bool:
    """Ephemeral in the channel (in the thread, if any); a DM when the channel refuses us."""
    if channel:
        try:
            client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, unfurl_links=False, **reply
            )
            return True
        except SlackApiError as exc:
            logger.info("ephemeral reply refused (%s); sending a DM instead", exc.response.get("error"))
    try:
        opened = client.conversations_open(users=user)
        dm = (opened.get("channel") or {}).get("id") or user
        client.chat_postMessage(channel=dm, unfurl_links=False, **reply)
        return True
    except SlackApiError:
        logger.exception("could not reach the user privately; nothing was posted")
        return False


def handler(deps: Deps):
    def handle_diagnose(ack: Ack, shortcut: dict, client: WebClient, context, logger: logging.Logger) -> None:
        ack()
        user = (shortcut.get("user") or {}).get("id", "")
        channel = (shortcut.get("channel") or {}).get("id", "")
        message = shortcut.get("message") or {}
        thread_ts = message.get("thread_ts")
        finding = None
        try:
            finding = deps.diagnoser.diagnose(message.get("text") or "", context.bot_user_id)
            if finding.verdict is Verdict.EMPTY:
                reply = nothing_to_read_message()
            else:
                reply = diagnosis_message(finding, deps.playbook, surface=SURFACE, asker=user)
        except Exception:
            logger.exception("could not diagnose a message for the shortcut")
            reply = error_message()
        if not user:
            logger.warning("shortcut without a user; nothing to answer")
            return
        sent = send_privately(client, channel, user, private_reply(reply), thread_ts, logger)
        if sent and finding is not None and finding.verdict is not Verdict.EMPTY:
            try:
                # No channel: the shortcut is private, and "where" would narrow down who asked.
                deps.repo.record_diagnosis(finding.label, SURFACE, Workspace.from_context(context), None)
            except Exception:
                logger.exception("could not count a diagnosis")

    return handle_diagnose
