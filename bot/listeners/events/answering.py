"""Posting Truce's answer to someone who asked (a mention or a DM): shared by both listeners."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.deps import Deps
from bot.services.ask import Asked
from bot.services.diagnose import Finding, Verdict, counted_channel
from bot.slack_calls import call
from bot.views.diagnosis import diagnosis_message, error_message, help_message


def asked_from_event(event: dict, context) -> Asked:
    """A mention or a DM event, as the services read it."""
    return Asked(
        team=context.team_id or "",
        channel=event["channel"],
        user=event.get("user") or "",
        text=event.get("text") or "",
        ts=event["ts"],
        thread_ts=event.get("thread_ts"),
        bot_user_id=context.bot_user_id,
        bot_id=context.bot_id,
    )


def permalink_of(client: WebClient, channel: str, ts: str, logger: logging.Logger) -> str | None:
    found = call(
        logger, client.chat_getPermalink, "chat.getPermalink", channel, channel=channel, message_ts=ts
    )
    link = found.get("permalink") if found is not None else None
    return link if isinstance(link, str) and link.startswith("https://") else None


def build_reply(
    deps: Deps, client: WebClient, asked: Asked, surface: str, logger: logging.Logger, read_channel: bool
) -> tuple[dict, Finding | None]:
    try:
        answer = deps.asking.answer(client, asked, read_channel=read_channel)
        finding = answer.finding
        if finding is None:
            return help_message(deps.playbook), None
        permalink = None
        read = finding.conversation
        if finding.verdict is Verdict.FRICTION and read is not None and read.clearest_ts:
            permalink = permalink_of(client, asked.channel, read.clearest_ts, logger)
        return diagnosis_message(finding, deps.playbook, surface, permalink, asker=asked.user), finding
    except Exception:
        logger.exception("could not diagnose a %s in %s", surface, asked.channel)
        return error_message(), None


def reply_to(
    deps: Deps,
    client: WebClient,
    asked: Asked,
    surface: str,
    reply_thread_ts: str | None,
    logger: logging.Logger,
    read_channel: bool = True,
) -> None:
    reply, finding = build_reply(deps, client, asked, surface, logger, read_channel)
    posted = call(
        logger,
        client.chat_postMessage,
        "chat.postMessage",
        asked.channel,
        channel=asked.channel,
        thread_ts=reply_thread_ts,
        unfurl_links=False,
        **reply,
    )
    if posted is None:
        return
    if asked.in_thread and isinstance(posted.get("ts"), str):
        # A follow-up mention within the cache's minute must see what Truce just said here.
        deps.reader.remember(
            (asked.team, asked.channel, asked.thread_ts),
            {
                "ts": posted["ts"],
                "user": asked.bot_user_id,
                "bot_id": asked.bot_id,
                "blocks": reply.get("blocks"),
            },
        )
    if finding is None or finding.verdict is Verdict.EMPTY:
        return
    try:
        # A DM (or group DM) keeps no channel id: it would narrow down who asked.
        deps.repo.record_diagnosis(finding.label, surface, asked.team, counted_channel(asked.channel))
    except Exception:
        logger.exception("could not count a diagnosis")
