"""The "Helpful" and "Not quite" buttons under every diagnosis, and the correction they lead to.

Helpful: a thank-you only the clicker sees, and a count, once per person per reply. Not quite: a
modal to pick the right cause (or "no friction"); saving it stores the label, and the text too when
the person saving is the one who asked Truce: the one place message text is kept.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot import ids
from bot.deps import Deps
from bot.services.feedback import helpful_key, may_keep_text
from bot.storage.workspace import Workspace
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


def _user(body: dict) -> str:
    return (body.get("user") or {}).get("id") or ""


def _reply(body: dict) -> str:
    """The message the buttons are on: the thing a person can find helpful once."""
    container = body.get("container") or {}
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts") or ""
    return f"{_channel(body)}:{ts}"


def helpful(deps: Deps):
    def handle_helpful(ack: Ack, body: dict, context, respond: Respond, logger: logging.Logger) -> None:
        ack()
        feedback = decode_feedback(_action_value(body))
        key = helpful_key(deps.settings.pulse_hash_key, _reply(body), _user(body))
        try:
            counted = deps.repo.record_helpful(
                feedback.get("label") or "unknown", key, Workspace.from_context(context)
            )
        except Exception:
            logger.exception("could not record a 'Helpful' click")
            respond(response_type="ephemeral", replace_original=False, **feedback_failed_message())
            return
        respond(
            response_type="ephemeral", replace_original=False, **helpful_thanks_message(already=not counted)
        )

    return handle_helpful


def not_quite(deps: Deps):
    def handle_not_quite(
        ack: Ack, body: dict, client: WebClient, respond: Respond, logger: logging.Logger
    ) -> None:
        ack()
        feedback = decode_feedback(_action_value(body))
        if not may_keep_text(feedback["asker"], _user(body)):
            feedback["text"] = ""  # someone else's words: the modal neither shows nor carries them
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
    def handle_correction(ack: Ack, body: dict, context, view: dict, logger: logging.Logger) -> None:
        label = _selected(view)
        if label not in LABELS:
            ack(response_action="errors", errors={ids.CORRECTION_BLOCK: "Pick one of the causes."})
            return
        meta = decode_metadata(view.get("private_metadata") or "")
        # Only the person who asked Truce may store the words; anyone else's answer is a label.
        text = meta["text"] if may_keep_text(meta["asker"], _user(body)) else ""
        text = text if text.strip() else ""
        try:
            deps.repo.add_correction(
                text=text,
                predicted=meta.get("predicted") or "",
                label=label,
                surface=(meta.get("surface") or "")[:16],
                model_version=deps.classifier.version[:40],
                team=Workspace.from_context(context),
            )
        except Exception:
            logger.exception("could not store a correction")
            ack(response_action="errors", errors={ids.CORRECTION_BLOCK: SAVE_FAILED})
            return
        ack(
            response_action="update",
            view=correction_thanks_view(label, deps.playbook, kept_text=bool(text)),
        )

    return handle_correction
