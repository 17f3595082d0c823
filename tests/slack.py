"""Helpers to talk to Truce the way Slack does: signed HTTP requests and realistic payloads."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.fakeslack import BOT_USER_ID, TEAM_ID

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-1111-2222-testtokenvalue"
PULSE_KEY = "test-pulse-key-0123456789abcdef"


@dataclass
class Reply:
    status: int
    body: str
    seconds: float

    def json(self):
        return json.loads(self.body)


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }


def post(
    url: str, body: str, content_type: str, headers: dict[str, str] | None = None, timeout: float = 10
) -> Reply:
    data = body.encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", content_type)
    request.add_header("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.read().decode(), time.perf_counter() - started)
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read().decode(), time.perf_counter() - started)


def post_signed_json(url: str, payload: dict, headers: dict[str, str] | None = None, **kw) -> Reply:
    body = json.dumps(payload)
    return post(url, body, "application/json", {**sign(body), **(headers or {})}, **kw)


def post_signed_form(url: str, fields: dict, headers: dict[str, str] | None = None, **kw) -> Reply:
    body = urlencode(fields)
    return post(url, body, "application/x-www-form-urlencoded", {**sign(body), **(headers or {})}, **kw)


def post_signed_interaction(url: str, payload: dict, **kw) -> Reply:
    return post_signed_form(url, {"payload": json.dumps(payload)}, **kw)


def new_ts() -> str:
    return f"{time.time():.6f}"


def mention_event(
    text: str,
    channel: str = "C0SALESMKT",
    user: str = "U0AE00001",
    thread_ts: str | None = None,
    event_id: str | None = None,
) -> dict:
    ts = new_ts()
    event = {
        "type": "app_mention",
        "text": f"<@{BOT_USER_ID}> {text}",
        "user": user,
        "ts": ts,
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return envelope(event, event_id)


def envelope(event: dict, event_id: str | None = None) -> dict:
    return {
        "token": "VERIFICATION_TOKEN_PLACEHOLDER",
        "team_id": TEAM_ID,
        "api_app_id": "A0TRUCE001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def slash_command(
    command: str, text: str, response_url: str, channel: str = "C0SALESMKT", user: str = "U0AE00001"
) -> dict:
    return {
        "token": "VERIFICATION_TOKEN_PLACEHOLDER",
        "team_id": TEAM_ID,
        "team_domain": "truce-test",
        "channel_id": channel,
        "channel_name": "sales-marketing",
        "user_id": user,
        "user_name": "pat",
        "command": command,
        "text": text,
        "api_app_id": "A0TRUCE001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex[:8]}",
    }


def block_action(
    action: dict,
    response_url: str,
    user: str = "U0AE00001",
    channel: str = "C0SALESMKT",
    message: dict | None = None,
    message_ts: str | None = None,
) -> dict:
    ts = message_ts or new_ts()
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "pat", "name": "pat", "team_id": TEAM_ID},
        "api_app_id": "A0TRUCE001",
        "token": "VERIFICATION_TOKEN_PLACEHOLDER",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex[:8]}",
        "team": {"id": TEAM_ID, "domain": "truce-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "sales-marketing"},
        "message": message or {"type": "message", "ts": ts, "text": "", "blocks": []},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{"action_ts": new_ts(), **action}],
    }
