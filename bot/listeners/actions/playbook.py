"""Playbook buttons: "cause_open:<id>" opens a cause's card; "Share in channel" posts one publicly.

A shared card is rebuilt from the playbook by cause id, never from what the person typed.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot import ids
from bot.deps import Deps
from bot.views.diagnosis import error_message
from bot.views.remedy import (
    HELP,
    cause_message,
    cause_modal,
    shared_cause_message,
    shared_help_message,
    unknown_cause_message,
)


def _action(body: dict) -> dict:
    return (body.get("actions") or [{}])[0]


def open_cause(deps: Deps):
    def handle_open(
        ack: Ack, body: dict, client: WebClient, respond: Respond, logger: logging.Logger
    ) -> None:
        ack()
        cause_id = str(_action(body).get("action_id", "")).removeprefix(ids.CAUSE_OPEN_PREFIX)
        cause = deps.playbook.get(cause_id)
        in_view = (body.get("container") or {}).get("type") == "view" or body.get("view")
        try:
            if in_view:  # App Home: no channel to answer in, so a modal
                if cause is not None:
                    client.views_open(trigger_id=body["trigger_id"], view=cause_modal(cause))
                return
            reply = cause_message(cause) if cause is not None else unknown_cause_message()
            respond(response_type="ephemeral", replace_original=False, unfurl_links=False, **reply)
        except Exception:
            logger.exception("could not open a playbook card")
            if not in_view and body.get("response_url"):
                respond(response_type="ephemeral", replace_original=False, **error_message())

    return handle_open


def share(deps: Deps):
    def handle_share(ack: Ack, body: dict, respond: Respond, logger: logging.Logger) -> None:
        ack()
        value = str(_action(body).get("value", ""))
        user = (body.get("user") or {}).get("id", "")
        cause = deps.playbook.get(value)
        if value == HELP:
            card = shared_help_message(deps.playbook, user)
        elif cause is not None:
            card = shared_cause_message(cause, user)
        else:
            respond(response_type="ephemeral", replace_original=False, **unknown_cause_message())
            return
        try:
            sent = respond(response_type="in_channel", replace_original=False, unfurl_links=False, **card)
            if sent.status_code != 200:
                raise RuntimeError(f"response_url answered HTTP {sent.status_code}")
        except Exception:
            logger.exception("could not share a playbook card")
            respond(response_type="ephemeral", replace_original=False, **error_message())

    return handle_share
