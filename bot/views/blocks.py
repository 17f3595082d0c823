"""Small Block Kit helpers that keep every text within Slack's limits."""

from __future__ import annotations

import json

SECTION_TEXT_MAX = 3000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
FALLBACK_TEXT_MAX = 3000


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Make user text safe inside mrkdwn (no accidental mentions or links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": clip(text, SECTION_TEXT_MAX)}


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": clip(text, BUTTON_TEXT_MAX), "emoji": True}


def header(text: str) -> dict:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": clip(text, HEADER_TEXT_MAX), "emoji": True},
    }


def section(text: str, accessory: dict | None = None, block_id: str | None = None) -> dict:
    block = {"type": "section", "text": mrkdwn(text)}
    if accessory:
        block["accessory"] = accessory
    if block_id:
        block["block_id"] = block_id
    return block


def context(text: str) -> dict:
    return {"type": "context", "elements": [mrkdwn(text)]}


def divider() -> dict:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str = "", style: str | None = None) -> dict:
    element = {"type": "button", "text": plain(text), "action_id": action_id}
    if value:
        element["value"] = clip(value, BUTTON_VALUE_MAX)
    if style:
        element["style"] = style
    return element


def actions(*elements: dict, block_id: str | None = None) -> dict:
    block = {"type": "actions", "elements": list(elements)[:25]}
    if block_id:
        block["block_id"] = block_id
    return block


def option(text: str, value: str) -> dict:
    return {"text": plain(text), "value": value}


def message(text: str, blocks: list[dict]) -> dict:
    return {"text": clip(text, FALLBACK_TEXT_MAX), "blocks": blocks[:MESSAGE_BLOCKS_MAX]}


def fit_json(payload: dict, shrink: str, limit: int) -> str:
    """JSON of `payload` within `limit` characters, cutting the text field `shrink` as needed."""
    payload = dict(payload)
    encoded = json.dumps(payload, ensure_ascii=False)
    while len(encoded) > limit and payload[shrink]:
        over = len(encoded) - limit
        payload[shrink] = payload[shrink][: max(0, len(payload[shrink]) - over - 8)]
        encoded = json.dumps(payload, ensure_ascii=False)
    return encoded


def parse_json_object(raw: object) -> dict:
    """The inverse of fit_json, forgiving: anything that is not a JSON object reads as {}."""
    try:
        payload = json.loads(raw or "")  # type: ignore[arg-type]
    except (TypeError, json.JSONDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}
