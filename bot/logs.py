"""Logging set-up. Tokens and secrets are masked; message text is never passed to a logger."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

TOKEN = re.compile(r"\b(xox[abeposr]|xapp)-[0-9A-Za-z-]+")  # xoxe-: refresh tokens (rotation)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def _clean(self, text: str) -> str:
        text = TOKEN.sub(lambda m: m.group(1) + "-***", text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
        return True


class _KnownNoise(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself and then warns that the client we pass
    wins; that is exactly what we want, so the warning only confuses operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def configure_logging(level: str = "INFO", secrets: Iterable[str] = (), stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    handler.addFilter(_KnownNoise())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # slack_sdk logs whole request bodies (message text) at DEBUG: never let that through.
    for noisy in ("slack_sdk", "slack_bolt", "urllib3", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl SQLiteImpl" on every start
