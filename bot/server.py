"""Build the WSGI application for one worker, and run gunicorn around it."""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from bot.app import create_app
from bot.deps import build_deps
from bot.logs import configure_logging
from bot.settings import Settings
from bot.web import SlackWSGI

logger = logging.getLogger(__name__)


def build_wsgi(settings: Settings) -> SlackWSGI:
    configure_logging(settings.log_level, secrets=[settings.signing_secret or "", settings.pulse_hash_key])
    deps = build_deps(settings)
    app = create_app(settings, deps)
    logger.info("Truce web worker ready (model %s)", deps.classifier.version)
    return SlackWSGI(app, deps.repo, settings.signing_secret or "", settings.max_body_bytes)


class TruceServer(BaseApplication):
    """gunicorn with threads: Bolt acknowledges at once and finishes slow work on a worker thread."""

    def __init__(self, settings: Settings, host: str = "0.0.0.0"):
        self.settings = settings
        self.host = host
        super().__init__()

    def load_config(self) -> None:
        config = {
            "bind": f"{self.host}:{self.settings.port}",
            "workers": self.settings.web_concurrency,
            "worker_class": "gthread",
            "threads": 8,
            "timeout": 30,
            "graceful_timeout": 8,  # SIGTERM: finish in-flight requests, exit within 10 s
            "keepalive": 5,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "truce-web",
        }
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self):
        return build_wsgi(self.settings)


def preflight(settings: Settings) -> None:
    """Fail in the master process, with one line, before any worker starts (no crash loop)."""
    from slack_sdk.errors import SlackApiError

    from bot.app import make_client
    from bot.settings import ConfigError
    from bot.storage.db import connect
    from model.predict import DEFAULT_ARTIFACT, Classifier

    Classifier.load(settings.model_path or DEFAULT_ARTIFACT)
    connect(settings.database_url).kw["bind"].dispose()
    try:
        make_client(settings).auth_test()
    except SlackApiError as exc:
        raise ConfigError(
            f"SLACK_BOT_TOKEN was refused by Slack ({exc.response.get('error')}): reinstall the app and copy the token"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot reach Slack at SLACK_API_URL={settings.api_url} ({exc})") from None
