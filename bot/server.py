"""Build the WSGI application and serve it with waitress.

waitress reads every request, headers and body, in its asynchronous I/O loop and hands it to a worker
thread only once it is complete. A client that sends its headers a byte at a time (slowloris) costs a
socket, never a thread, so /healthz and Slack's requests keep being answered.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time

from waitress import wasyncore
from waitress.server import create_server

from bot.answer_worker import ProcessLazyRunner, settle_memory, use_answer_processes
from bot.app import create_app
from bot.deps import build_deps
from bot.logs import configure_logging
from bot.settings import Settings
from bot.web import SlackWSGI

logger = logging.getLogger(__name__)

GRACE_SECONDS = 8.0  # SIGTERM: in-flight requests and replies finish within this, the process exits < 10 s
IDLE_CLOSE_SECONDS = 30  # a connection that sends nothing for this long is closed
CONNECTION_LIMIT = 1000  # open connections (slow ones included) before new ones wait in the backlog


def build_wsgi(settings: Settings) -> SlackWSGI:
    configure_logging(settings.log_level, secrets=settings.log_secrets)
    logging.getLogger("waitress").setLevel(logging.WARNING)  # no "Serving on ..." chatter
    deps = build_deps(settings)
    app = create_app(settings, deps)
    if not settings.oauth:  # rows from before Truce knew workspaces belong to the one it has
        deps.repo.adopt_unowned(app.client.auth_test().get("team_id") or "")
    logger.info("Truce web server ready (model %s)", deps.classifier.version)
    return SlackWSGI(app, deps.repo, settings.signing_secret or "", settings.max_body_bytes)


class _Stop(wasyncore.ExitNow):
    """Raised by the SIGTERM/SIGINT handler to leave waitress's I/O loop (which re-raises ExitNow from
    wherever in a connection's handling the signal lands)."""


class TruceServer:
    """One process: waitress's I/O loop buffers requests, `web_threads` threads run the app, and Bolt
    acknowledges at once and finishes slow work on its own listener threads; answers to mentions and
    DMs are handed to the answer processes (bot/answer_worker.py)."""

    def __init__(self, settings: Settings, host: str = "0.0.0.0"):
        self.settings = settings
        self.host = host
        self.answers: ProcessLazyRunner | None = None

    def run(self) -> None:
        wsgi = build_wsgi(self.settings)
        self.answers = use_answer_processes(wsgi.app, self.settings)
        settle_memory()
        server = create_server(
            wsgi,
            host=self.host,
            port=self.settings.port,
            threads=self.settings.web_threads,
            channel_timeout=IDLE_CLOSE_SECONDS,
            connection_limit=CONNECTION_LIMIT,
            asyncore_use_poll=True,  # select() cannot watch more than 1024 sockets
            # Up to twice the limit a body is read, so the front door's 413 reaches a client that is still
            # sending; beyond that waitress answers 413 from the headers and closes, buffering nothing.
            max_request_body_size=2 * self.settings.max_body_bytes,
            ident="truce",
        )

        def stop(signum, frame):
            raise _Stop

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        with contextlib.suppress(_Stop):  # waitress's own handler catches only SystemExit and Ctrl-C
            server.run()
        self._drain(server)

    def _drain(self, server) -> None:
        """Stop accepting, let requests being handled finish and their answers go out, then return; the
        interpreter then waits for Bolt's listener threads (replies being posted). A watchdog makes sure
        the process is gone within GRACE_SECONDS + 1 s whatever they do."""
        deadline = time.monotonic() + GRACE_SECONDS
        watchdog = threading.Timer(GRACE_SECONDS + 1, self._give_up)
        watchdog.daemon = True
        watchdog.start()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.accepting = False
        server.socket.close()  # new connections are refused; a load balancer moves on
        dispatcher = server.task_dispatcher
        while time.monotonic() < deadline and (
            dispatcher.active_count or dispatcher.queue or _unsent(server)
        ):
            server.asyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        dispatcher.shutdown(cancel_pending=True, timeout=max(0.0, deadline - time.monotonic()))
        if self.answers is not None:  # the answers handed over are posted before the process ends
            self.answers.stop(max(0.5, deadline - time.monotonic()))

    @staticmethod
    def _give_up() -> None:
        logger.error("in-flight work did not finish within %.0f s of SIGTERM; exiting anyway", GRACE_SECONDS)
        logging.shutdown()
        os._exit(1)


def _unsent(server) -> bool:
    """True while some connection still has an answer to write."""
    return any(getattr(channel, "total_outbufs_len", 0) for channel in list(server._map.values()))


def preflight(settings: Settings) -> None:
    """Fail with one line before the server starts (no crash loop)."""
    from slack_sdk.errors import SlackApiError

    from bot.app import make_client
    from bot.settings import ConfigError
    from bot.storage.db import connect
    from model.predict import DEFAULT_ARTIFACT, Classifier

    Classifier.load(settings.model_path or DEFAULT_ARTIFACT)
    connect(settings.database_url).kw["bind"].dispose()
    if settings.oauth:  # no token of its own: each workspace's comes from its installation
        return
    try:
        make_client(settings).auth_test()
    except SlackApiError as exc:
        raise ConfigError(
            f"SLACK_BOT_TOKEN was refused by Slack ({exc.response.get('error')}): reinstall the app and copy the token"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot reach Slack at SLACK_API_URL={settings.api_url} ({exc})") from None
