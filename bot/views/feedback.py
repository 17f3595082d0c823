"""What a person sees after "Helpful" or "Not quite" on a diagnosis. Pure builders.

"Not quite" opens a small modal: an ephemeral message cannot carry the diagnosed text back to us
(Slack sends no `message` with actions on ephemeral messages), but a modal's private_metadata can,
so nothing has to be stored before the person decides to submit.
"""

from __future__ import annotations

from bot import ids
from bot.views.blocks import clip, context, escape, fit_json, message, option, parse_json_object, section
from model.labels import NONE
from model.playbook import Playbook

PRIVATE_METADATA_MAX = 3000
PREVIEW_CHARS = 280
NO_FRICTION = "No friction here"
SAVE_FAILED = "Sorry, I couldn't save that. Please try again."


def label_title(label: str, playbook: Playbook) -> str:
    cause = playbook.get(label)
    if cause is not None:
        return cause.title
    return NO_FRICTION if label == NONE else label


def correction_options(playbook: Playbook) -> list[dict]:
    return [option(c.title, c.id) for c in playbook.causes] + [option(NO_FRICTION, NONE)]


def encode_metadata(feedback: dict, channel_id: str = "") -> str:
    """The text, the label Truce gave and where: exactly what a correction stores, nothing else,
    plus who asked Truce (compared with whoever saves; never stored)."""
    payload = {
        "t": feedback.get("text", ""),
        "p": feedback.get("label", ""),
        "s": feedback.get("surface", ""),
        "a": feedback.get("asker", ""),
        "c": channel_id,
    }
    return fit_json(payload, "t", PRIVATE_METADATA_MAX)


def decode_metadata(raw: str) -> dict:
    payload = parse_json_object(raw)
    return {
        "text": str(payload.get("t", "")),
        "predicted": str(payload.get("p", "")),
        "surface": str(payload.get("s", "")),
        "asker": str(payload.get("a", "")),
        "channel_id": str(payload.get("c", "")),
    }


def _title(text: str) -> dict:
    return {"type": "plain_text", "text": clip(text, 24), "emoji": True}


KEEPS_TEXT = (
    ":lock: Saving keeps this message's text with your answer, so the next model learns from it. "
    "Nothing else about it is kept, and nobody is told who corrected it. Cancel keeps nothing."
)
LABEL_ONLY = (
    ":lock: Only the person who asked me can add the message's text, so saving counts your answer "
    "as a label, without any text. Nobody is told who answered. Cancel keeps nothing."
)


def correction_modal(feedback: dict, playbook: Playbook, channel_id: str = "") -> dict:
    """The picker. With no text in `feedback` (someone other than the asker clicked) it shows no
    preview and says that only a label will be kept."""
    predicted = feedback.get("label", "")
    preview = clip(" ".join(feedback.get("text", "").split()), PREVIEW_CHARS)
    blocks = [
        section(f"I said *{escape(label_title(predicted, playbook).lower())}*. What was it really about?"),
    ]
    if preview:
        blocks.append(context(f"The message: “{escape(preview)}”"))
    blocks += [
        {
            "type": "input",
            "block_id": ids.CORRECTION_BLOCK,
            "label": {"type": "plain_text", "text": "The right cause", "emoji": True},
            "element": {
                "type": "static_select",
                "action_id": ids.CORRECTION_SELECT,
                "placeholder": {"type": "plain_text", "text": "Pick a cause", "emoji": True},
                "options": correction_options(playbook),
            },
        },
        context(KEEPS_TEXT if feedback.get("text", "").strip() else LABEL_ONLY),
    ]
    return {
        "type": "modal",
        "callback_id": ids.CORRECTION_VIEW,
        "title": _title("Teach Truce"),
        "submit": _title("Save"),
        "close": _title("Cancel"),
        "private_metadata": encode_metadata(feedback, channel_id),
        "blocks": blocks,
    }


def correction_thanks_view(label: str, playbook: Playbook, kept_text: bool = True) -> dict:
    title = escape(label_title(label, playbook).lower())
    if kept_text:
        text = (
            f":pray: Thanks! Saved as *{title}*. "
            "The next time the model is retrained with feedback, it learns from this."
        )
    else:
        text = f":pray: Thanks! Counted as *{title}*, without the message's text."
    return {
        "type": "modal",
        "callback_id": ids.CORRECTION_VIEW,
        "title": _title("Teach Truce"),
        "close": _title("Done"),
        "blocks": [section(text)],
    }


def helpful_thanks_message(already: bool = False) -> dict:
    if already:
        text = "You already told me this helped, and it's counted once. Thanks again!"
    else:
        text = "Thanks for telling me. Good luck with the next step!"
    return message(text, [section(f":raised_hands: {text}")])


def feedback_failed_message() -> dict:
    return message(SAVE_FAILED, [section(f":warning: {SAVE_FAILED}")])
