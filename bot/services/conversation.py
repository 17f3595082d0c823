"""Reading the conversation Truce is asked about: a thread, or a channel's last hour.

What is read is kept in memory only (a thread for `THREAD_CACHE_SECONDS`, so several mentions in one
thread read it once), classified and dropped: never stored, never logged.

Slack may rate-limit `conversations.replies` and `conversations.history` hard. In the reply path Truce
waits out at most `MAX_RATE_LIMIT_WAIT` seconds of Retry-After, then falls back to the mention's own
words and says how to give it access; it never stays silent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler

from bot.slack_calls import api_error

logger = logging.getLogger(__name__)

THREAD_LIMIT = 100  # the newest messages of a thread that are read
HISTORY_SECONDS = 3600  # a top-level mention reads the channel's last hour ...
HISTORY_LIMIT = 30  # ... at most this many messages
THREAD_CACHE_SECONDS = 60
THREAD_CACHE_SIZE = 512
MAX_RATE_LIMIT_WAIT = 2.0
PAGE_LIMIT = 200  # what we ask per page; Slack may answer with fewer (as few as 15)
MAX_PAGES = 10

# Message subtypes written by people; everything else (joins, bots, edits, ...) is left out.
HUMAN_SUBTYPES = {None, "", "thread_broadcast", "file_share", "me_message"}


@dataclass(frozen=True)
class SlackMessage:
    ts: str
    user: str
    text: str
    from_truce: bool = False
    truce_label: str | None = None  # the cause Truce named, for its own earlier replies


@dataclass
class Conversation:
    kind: str  # "thread" or "channel"
    messages: list[SlackMessage] = field(default_factory=list)  # people's messages, oldest first
    error: str | None = None  # why the read failed (a Slack error code), None when it worked
    truce_labels: list[str] = field(default_factory=list)  # causes Truce already named here

    @property
    def ok(self) -> bool:
        return self.error is None


class ShortRateLimitRetry(RateLimitErrorRetryHandler):
    """Retry a 429 only while the wait Slack asks for stays within `max_wait` seconds."""

    def __init__(self, max_wait: float = MAX_RATE_LIMIT_WAIT, max_retry_count: int = 1):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if response is None or response.status_code != 429:
            return False
        for key, values in response.headers.items():
            if key.lower() == "retry-after":
                try:
                    return float(values[0]) + 1 <= self.max_wait
                except (TypeError, ValueError, IndexError):
                    return False
        return True


def reading_client(client: WebClient, retry_handlers: list[RetryHandler] | None = None) -> WebClient:
    """The listener's client (same token, same base URL), with a short patience for rate limits."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=retry_handlers if retry_handlers is not None else [ShortRateLimitRetry()],
    )


def _label_of_truce_reply(message: dict) -> str | None:
    """The cause named in one of Truce's own replies: its feedback buttons carry it."""
    for block in message.get("blocks") or []:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements") or []:
            try:
                value = json.loads(element.get("value") or "")
            except (TypeError, ValueError):
                continue
            if isinstance(value, dict) and isinstance(value.get("l"), str):
                return value["l"]
    return None


def to_message(raw: dict, bot_user_id: str | None, bot_id: str | None) -> SlackMessage | None:
    """A person's message as Truce reads it, or None for bots, Truce itself and system messages."""
    if not isinstance(raw, dict) or not raw.get("ts"):
        return None
    own = (bot_user_id and raw.get("user") == bot_user_id) or (bot_id and raw.get("bot_id") == bot_id)
    if own:
        return SlackMessage(str(raw["ts"]), "", "", from_truce=True, truce_label=_label_of_truce_reply(raw))
    if raw.get("bot_id") or raw.get("subtype") not in HUMAN_SUBTYPES or raw.get("bot_profile"):
        return None
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip() or not raw.get("user"):
        return None
    return SlackMessage(str(raw["ts"]), str(raw["user"]), text)


class ThreadCache:
    """A small in-memory cache of recently read threads; nothing in it must survive a restart."""

    def __init__(
        self,
        seconds: float = THREAD_CACHE_SECONDS,
        size: int = THREAD_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._items: OrderedDict[tuple, tuple[float, list[dict]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> list[dict] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if self.clock() - item[0] > self.seconds:
                del self._items[key]
                return None
            return list(item[1])

    def append(self, key: tuple, message: dict) -> None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                item[1].append(message)

    def put(self, key: tuple, messages: list[dict]) -> None:
        with self._lock:
            self._items[key] = (self.clock(), messages)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class ConversationReader:
    def __init__(self, cache: ThreadCache | None = None):
        self.cache = cache or ThreadCache()

    def remember(self, key: tuple, raw_message: dict) -> None:
        """Add a message to a cached thread (Truce's own reply), so a follow-up sees it."""
        self.cache.append(key, raw_message)

    def _pages(self, fetch: Callable[..., dict], **params) -> list[dict]:
        """Every page of a conversations.* read (at most MAX_PAGES); `_build` keeps the newest."""
        messages: list[dict] = []
        cursor = None
        for _ in range(MAX_PAGES):
            page = fetch(**params, limit=PAGE_LIMIT, **({"cursor": cursor} if cursor else {}))
            messages.extend(m for m in page.get("messages") or [] if isinstance(m, dict))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return messages

    def thread(
        self,
        client: WebClient,
        team: str,
        channel: str,
        thread_ts: str,
        bot_user_id: str | None,
        bot_id: str | None,
    ) -> Conversation:
        key = (team, channel, thread_ts)
        raw = self.cache.get(key)
        if raw is None:
            try:
                raw = self._pages(reading_client(client).conversations_replies, channel=channel, ts=thread_ts)
            except (SlackApiError, OSError) as exc:
                return Conversation("thread", error=api_error(exc))
            self.cache.put(key, raw)
        return self._build("thread", raw, bot_user_id, bot_id, THREAD_LIMIT)

    def history(
        self, client: WebClient, channel: str, before_ts: str, bot_user_id: str | None, bot_id: str | None
    ) -> Conversation:
        try:
            latest = float(before_ts)
        except (TypeError, ValueError):
            latest = time.time()
        try:
            page = reading_client(client).conversations_history(
                channel=channel,
                oldest=f"{latest - HISTORY_SECONDS:.6f}",
                latest=f"{latest:.6f}",
                inclusive=False,
                limit=HISTORY_LIMIT,
            )
        except (SlackApiError, OSError) as exc:
            return Conversation("channel", error=api_error(exc))
        raw = [m for m in page.get("messages") or [] if isinstance(m, dict)]
        return self._build("channel", raw, bot_user_id, bot_id, HISTORY_LIMIT)

    @staticmethod
    def _build(kind: str, raw: list[dict], bot_user_id, bot_id, limit: int) -> Conversation:
        read = [m for m in (to_message(r, bot_user_id, bot_id) for r in raw) if m is not None]
        read.sort(key=lambda m: float(m.ts))
        people = [m for m in read if not m.from_truce][-limit:]
        labels = [m.truce_label for m in read if m.from_truce and m.truce_label]
        return Conversation(kind, people, None, labels)
