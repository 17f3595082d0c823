"""/remedy [help | <cause> | <what happened>]: the playbook, only for the person who asked.

Lookups are answered in the acknowledgement itself (well inside Slack's 3 seconds); a situation to
classify is acknowledged first and answered through the response_url.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, Respond

from bot.deps import Deps
from bot.services.diagnose import counted_channel
from bot.services.remedy import QueryKind, interpret
from bot.storage.workspace import Workspace
from bot.views.diagnosis import error_message
from bot.views.remedy import cause_message, diagnosis_result_message, help_message

SURFACE = "remedy"


def handler(deps: Deps):
    def handle_remedy(ack: Ack, command: dict, respond: Respond, context, logger: logging.Logger) -> None:
        try:
            query = interpret(command.get("text") or "", deps.playbook)
            if query.kind is QueryKind.HELP:
                quick = help_message(deps.playbook)
            elif query.kind is QueryKind.CAUSE and query.cause is not None:
                quick = cause_message(query.cause)
            else:
                quick = None
        except Exception:
            logger.exception("could not read a /remedy query")
            ack(response_type="ephemeral", **error_message())
            return
        if quick is not None:
            ack(response_type="ephemeral", **quick)
            return
        ack()
        try:
            finding = deps.diagnoser.diagnose(query.text)
            reply = diagnosis_result_message(
                finding, deps.playbook, SURFACE, asker=command.get("user_id") or ""
            )
        except Exception:
            logger.exception("could not diagnose a /remedy situation")
            respond(response_type="ephemeral", replace_original=False, **error_message())
            return
        respond(response_type="ephemeral", replace_original=False, unfurl_links=False, **reply)
        try:
            deps.repo.record_diagnosis(
                finding.label,
                SURFACE,
                Workspace.from_context(context),
                counted_channel(command.get("channel_id"), command.get("channel_name") or ""),
            )
        except Exception:
            logger.exception("could not count a diagnosis")

    return handle_remedy
