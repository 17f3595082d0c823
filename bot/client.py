"""The Web API client every part of Truce uses: SLACK_API_URL, a timeout, and slack_sdk's retry handlers."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.settings import Settings


def make_client(settings: Settings, token: str | None = None) -> WebClient:
    """A Web API client that waits out HTTP 429 (Retry-After) and retries transient failures. In
    multi-workspace mode it has no token of its own: each request or job hands it one."""
    return WebClient(
        token=token or settings.bot_token,
        base_url=settings.api_url,
        timeout=settings.api_timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),  # connect errors only: see bot/slack_calls.py
            RateLimitErrorRetryHandler(max_retry_count=5),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )
