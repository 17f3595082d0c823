"""Web API calls that never take the process down: one clear log line per failure, None as the result.

Retries happen below this, in the WebClient's retry handlers (HTTP 429 with Retry-After, 500/503,
connection errors). A read timeout is not retried: Slack may have posted already, and a duplicate
post is worse than a logged miss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

EXPLAIN = {
    "channel_not_found": "Truce is not in that channel or cannot see it (invite it with /invite @Truce)",
    "not_in_channel": "Truce is not in that channel (invite it with /invite @Truce)",
    "is_archived": "the channel is archived",
    "invalid_auth": "the bot token was rejected: reinstall the app and update SLACK_BOT_TOKEN",
    "not_authed": "no bot token was sent: check SLACK_BOT_TOKEN",
    "token_revoked": "the bot token was revoked: reinstall the app and update SLACK_BOT_TOKEN",
    "account_inactive": "the app was uninstalled or its token deactivated",
    "ratelimited": "Slack kept rate-limiting the call after every retry",
    "missing_scope": "the app lacks a permission: reinstall it from manifest.json",
    "user_not_in_channel": "the person is not in that channel",
    "msg_too_long": "the message was too long (a bug in Truce: please report it)",
    "invalid_blocks": "the message blocks were invalid (a bug in Truce: please report it)",
}

GONE = {"channel_not_found", "not_in_channel", "is_archived"}


def api_error(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or f"http_{exc.response.status_code}")
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


def call(logger: logging.Logger, method: Callable[..., Any], what: str, where: str | None = None, **kwargs):
    """Run one Web API method; on failure log one line and return None instead of raising."""
    try:
        return method(**kwargs)
    except (SlackApiError, OSError) as exc:
        error = api_error(exc)
        reason = EXPLAIN.get(error, "Slack's Web API failed")
        logger.error("%s failed%s: %s (%s)", what, f" in {where}" if where else "", error, reason)
        return None
