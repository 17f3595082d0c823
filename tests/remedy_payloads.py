"""Payloads for /remedy, the shortcut, feedback and App Home tests, and a signed dispatch to `app`."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from sqlalchemy import select

from bot.fakeslack import BOT_USER_ID, TEAM_ID
from bot.storage.models import Base
from tests.slack import new_ts, sign


def trigger_id() -> str:
    return f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex[:8]}"


def message_action(
    text: str,
    response_url: str,
    channel: str = "C0SALESMKT",
    user: str = "U0AE00001",
    author: str = "U0AE00002",
    thread_ts: str | None = None,
) -> dict:
    """The "Diagnose friction" message shortcut. Slack sends no api_app_id with these."""
    ts = new_ts()
    message = {"type": "message", "text": text, "user": author, "ts": ts, "team": TEAM_ID}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "message_action",
        "token": "VERIFICATION_TOKEN_PLACEHOLDER",
        "action_ts": new_ts(),
        "team": {"id": TEAM_ID, "domain": "truce-test"},
        "user": {"id": user, "name": "pat"},
        "channel": {"id": channel, "name": "sales-marketing"},
        "callback_id": "diagnose_friction",
        "trigger_id": trigger_id(),
        "message_ts": ts,
        "message": message,
        "response_url": response_url,
    }


def view_submission(view: dict, values: dict, user: str = "U0AE00001") -> dict:
    """Submitting a modal we opened: `view` is what Truce sent to views.open."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "truce-test"},
        "user": {"id": user, "username": "pat", "name": "pat", "team_id": TEAM_ID},
        "api_app_id": "A0TRUCE001",
        "token": "VERIFICATION_TOKEN_PLACEHOLDER",
        "trigger_id": trigger_id(),
        "view": {
            "id": "V0MODAL001",
            "team_id": TEAM_ID,
            "type": "modal",
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": values},
            "hash": f"{int(time.time())}.abc",
            "title": view.get("title"),
            "app_id": "A0TRUCE001",
            "bot_id": "BTRUCE0001",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }


def selected(block_id: str, action_id: str, value: str) -> dict:
    return {
        block_id: {
            action_id: {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
            }
        }
    }


def app_home_opened(user: str = "U0AE00001", tab: str = "home") -> dict:
    ts = new_ts()
    return {
        "token": "VERIFICATION_TOKEN_PLACEHOLDER",
        "team_id": TEAM_ID,
        "api_app_id": "A0TRUCE001",
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME0001",
            "tab": tab,
            "event_ts": ts,
        },
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}
        ],
    }


# ---- dispatching to the `app` fixture (handlers run before the response) -------------------------
def _dispatch(app: App, raw: str, content_type: str) -> BoltResponse:
    headers = {**sign(raw), "content-type": content_type}
    return app.dispatch(BoltRequest(body=raw, headers=headers))


def dispatch_form(app: App, fields: dict) -> BoltResponse:
    return _dispatch(app, urlencode(fields), "application/x-www-form-urlencoded")


def dispatch_interaction(app: App, payload: dict) -> BoltResponse:
    return dispatch_form(app, {"payload": json.dumps(payload)})


def dispatch_event(app: App, payload: dict) -> BoltResponse:
    return _dispatch(app, json.dumps(payload), "application/json")


def body_json(response: BoltResponse) -> dict:
    return json.loads(response.body) if response.body else {}


# ---- looking inside the database ---------------------------------------------------------------
def all_stored_text(sessions) -> str:
    """Every value of every row of every table, as one string: to prove what is NOT stored."""
    parts = []
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)
