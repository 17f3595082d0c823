"""The "Helpful" and "Not quite" buttons under every diagnosis, and the correction they lead to.

Helpful: a thank-you only the clicker sees, and a count. Not quite: a modal to pick the right cause
(or "no friction"); saving it stores the text with the label, the one place message text is kept.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot import ids
from bot.deps import Deps
from bot.views.diagnosis import decode_feedback
from bot.views.feedback import (
    SAVE_FAILED,
    correction_modal,
    correction_thanks_view,
    decode_metadata,
    feedback_failed_message,
    helpful_thanks_message,
)
from model.labels import LABELS


def _action_value(body: dict) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def _channel(body: dict) -> str:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""


def helpful(deps: Deps):
    def handle_helpful(ack: Ack, body: dict, respond: Respond, logger: logging.Logger) -> None:
        ack()
        feedback = decode_feedback(_action_value(body))
        try:
            deps.repo.record_feedback(feedback.get("label") or "unknown", helpful=True)
        except Exception:
            logger.exception("could not record a 'Helpful' click")
            respond(response_type="ephemeral", replace_original=False, **feedback_failed_message())
            return
        respond(response_type="ephemeral", replace_original=False, **helpful_thanks_message())

    return handle_helpful


def not_quite(deps: Deps):
    def handle_not_quite(
        ack: Ack, body: dict, client: WebClient, respond: Respond, logger: logging.Logger
    ) -> None:
        ack()
        feedback = decode_feedback(_action_value(body))
        try:
            client.views_open(
                trigger_id=body["trigger_id"],
                view=correction_modal(feedback, deps.playbook, _channel(body)),
            )
        except Exception:
            logger.exception("could not open the correction modal")
            respond(response_type="ephemeral", replace_original=False, **feedback_failed_message())

    return handle_not_quite


def _selected(view: dict) -> str:
    values = (view.get("state") or {}).get("values") or {}
    chosen = (values.get(ids.CORRECTION_BLOCK) or {}).get(ids.CORRECTION_SELECT) or {}
    return str((chosen.get("selected_option") or {}).get("value") or "")


def correction_submitted(deps: Deps):
    def handle_correction(ack: Ack, view: dict, logger: logging.Logger) -> None:
        label = _selected(view)
        if label not in LABELS:
            ack(response_action="errors", errors={ids.CORRECTION_BLOCK: "Pick one of the causes."})
            return
        meta = decode_metadata(view.get("private_metadata") or "")
        if not meta.get("text", "").strip():
            ack(response_action="update", view=correction_thanks_view(label, deps.playbook))
            logger.warning("correction without text; nothing to learn from, nothing stored")
            return
        try:
            deps.repo.add_correction(
                text=meta["text"],
                predicted=meta.get("predicted") or "",
                label=label,
                surface=(meta.get("surface") or "")[:16],
                model_version=deps.classifier.version[:40],
            )
        except Exception:
            logger.exception("could not store a correction")
            ack(response_action="errors", errors={ids.CORRECTION_BLOCK: SAVE_FAILED})
            return
        ack(response_action="update", view=correction_thanks_view(label, deps.playbook))

    return handle_correction
