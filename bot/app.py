"""create_app(settings, deps) -> a Bolt App with every listener registered."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltResponse
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_sdk import WebClient

from bot.client import make_client
from bot.deps import Deps
from bot.listeners import register_listeners
from bot.settings import Settings

logger = logging.getLogger(__name__)

LISTENER_THREADS = 32
# Set in a request's context by the HTTP front door (bot/web.py) when it has claimed the delivery.
CLAIMED_DELIVERY = "truce_claimed_delivery"


def delivery_key(body: dict) -> str | None:
    """What makes a delivery unique: Slack's event_id, or the interaction's trigger/action ids."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    actions = body.get("actions") or []
    if actions and isinstance(actions[0], dict) and actions[0].get("action_ts"):
        container = body.get("container") or {}
        return f"action:{container.get('message_ts', '')}:{actions[0]['action_ts']}"
    return None


class InlineLazyRunner(LazyListenerRunner):
    """Runs a lazy listener (an answer) before the response, in the dispatching thread: with
    `process_before_response` (the offline console, handler tests) the answer is part of the exchange."""

    def __init__(self, logger: logging.Logger):
        self.logger = logger

    def start(self, function, request) -> None:
        self.run(function, request)


def create_app(
    settings: Settings,
    deps: Deps,
    *,
    client: WebClient | None = None,
    process_before_response: bool = False,
    token_verification_enabled: bool = True,
) -> App:
    client = client or make_client(settings)
    oauth = None
    if settings.oauth:
        from bot.installations import oauth_flow

        oauth = oauth_flow(settings, deps.installations, client)
    app = App(
        client=client,
        oauth_flow=oauth,
        signing_secret=settings.signing_secret or "unused-in-socket-and-console-mode",
        process_before_response=process_before_response,
        # Listener threads may sit out a Retry-After; enough of them keeps other replies moving.
        listener_executor=ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="truce-listener"
        ),
        token_verification_enabled=token_verification_enabled,
        ignoring_self_events_enabled=True,
        # We log our own failures with context; Bolt must not echo request bodies.
        raise_error_for_unhandled_request=False,
    )

    @app.middleware
    def once_only(body: dict, context, request, next, logger: logging.Logger):
        """Slack retries events it did not see acknowledged; bolt-python does not de-duplicate.
        Behind bot/web.py the claim was already made, in the same transaction as the replay check.
        A lazy-only request is the second half of one already claimed (bot/answer_worker.py)."""
        key = delivery_key(body)
        if key is not None and not request.lazy_only and context.get(CLAIMED_DELIVERY) != key:
            try:
                first = deps.repo.claim(key)
            except Exception:
                logger.exception("could not record a delivery; handling it anyway")
                first = True
            if not first:
                logger.info("duplicate delivery ignored (%s)", key.split(":", 1)[0])
                return BoltResponse(status=200, body="")
        return next()

    @app.error
    def on_error(error: Exception, body: dict, logger: logging.Logger):
        logger.exception("unhandled error in a listener (%s)", type(error).__name__, exc_info=error)
        return BoltResponse(status=200, body="")

    if process_before_response:
        app.listener_runner.lazy_listener_runner = InlineLazyRunner(app.logger)
    register_listeners(app, deps)
    return app
