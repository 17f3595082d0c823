"""/remedy [help | tried | <cause> | <what happened>]: the playbook, only for the person who asked.

`/remedy tried` lists the channel's experiments (remedies picked with Try), open and finished.

Lookups are answered in the acknowledgement itself (well inside Slack's 3 seconds); a situation to
classify is acknowledged first and answered through the response_url.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, Respond

from bot.deps import Deps
from bot.listeners.actions.experiments import workspace_of
from bot.services.diagnose import counted_channel
from bot.services.experiments import ExperimentInsights
from bot.services.remedy import QueryKind, interpret
from bot.storage.workspace import Workspace
from bot.views.diagnosis import error_message
from bot.views.experiments import tried_message
from bot.views.remedy import cause_message, diagnosis_result_message, help_message

SURFACE = "remedy"
TRIED = "tried"


def handler(deps: Deps):
    def handle_remedy(
        ack: Ack, command: dict, respond: Respond, client, context, logger: logging.Logger
    ) -> None:
        if (command.get("text") or "").strip().lower() == TRIED:
            ack()
            respond(
                response_type="ephemeral",
                replace_original=False,
                **_tried(deps, command, client, context, logger),
            )
            return
        try:
            query = interpret(command.get("text") or "", deps.playbook)
            if query.kind is QueryKind.HELP:
                quick = help_message(deps.playbook)
            elif query.kind is QueryKind.CAUSE and query.cause is not None:
                quick = cause_message(query.cause, _works(deps, command, context, query.cause.id, logger))
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
            works = _works(deps, command, context, finding.cause.id, logger) if finding.cause else None
            reply = diagnosis_result_message(
                finding, deps.playbook, SURFACE, asker=command.get("user_id") or "", works=works
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


def _tried(deps: Deps, command: dict, client, context, logger: logging.Logger) -> dict:
    try:
        team = workspace_of(command, context)
        cards = deps.experiments(client).tried(team.team_id, [command.get("channel_id") or ""])
        return tried_message(cards, deps.playbook)
    except Exception:
        logger.exception("could not list the channel's experiments")
        return error_message()


def _works(deps: Deps, command: dict, context, cause_id: str, logger: logging.Logger):
    """How the cause's remedies did in this workspace; the card goes out without it on failure."""
    try:
        team = workspace_of(command, context)
        return ExperimentInsights(deps.settings, deps.experiment_repo, deps.clock).works(
            team.team_id, cause_id
        )
    except Exception:
        logger.exception("could not read what worked in this workspace")
        return None
