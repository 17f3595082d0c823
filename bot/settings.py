"""The one place that reads the environment (and an optional `.env` file).

Every problem becomes a `ConfigError` whose message is one line naming the variable and what to do.
"""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_DATA_DIR = Path("data")
MIN_ANONYMITY = 3
# The bot scopes an "Add to Slack" install asks for: the same list as manifest.json's
# oauth_config.scopes.bot (a test keeps the two equal). SLACK_SCOPES may replace it.
DEFAULT_BOT_SCOPES = (
    "app_mentions:read",
    "chat:write",
    "commands",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "im:write",
    "files:write",
)


class ConfigError(ValueError):
    """A setting that is missing or malformed; str() is the one line to show."""


def _secret_repr(value: str | None) -> str:
    return "None" if value is None else "'***'"


@dataclass(frozen=True)
class Settings:
    bot_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    # Multi-workspace ("Add to Slack") mode: OAuth v2 with the installations kept in the database.
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = DEFAULT_BOT_SCOPES
    api_url: str = DEFAULT_API_URL
    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'truce.db'}"
    # The offline console's own database: trying things never writes into the real one.
    console_database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'console.db'}"
    port: int = 3000
    model_path: Path | None = None
    log_level: str = "INFO"
    # Pulse polls
    pulse_hash_key: str = field(default="console-only-key", repr=False)
    pulse_timezone: str = "UTC"
    pulse_weekday: int = 0  # Monday
    pulse_time: str = "10:00"
    pulse_close_after_days: float = 3.0
    pulse_min_responses: int = MIN_ANONYMITY
    pulse_grace_hours: float = 12.0
    web_threads: int = 16
    # Processes beside each web process that diagnose and post answers (bot/answer_worker.py).
    answer_processes: int = 1
    max_body_bytes: int = 1_000_000
    api_timeout: float = 10.0

    @property
    def log_secrets(self) -> list[str]:
        """Values that must never reach a log line (bot/logs.py redacts them; tokens are redacted by
        their shape)."""
        return [value for value in (self.signing_secret, self.pulse_hash_key, self.client_secret) if value]

    @property
    def oauth(self) -> bool:
        """Many workspaces, each installed through /slack/install (no SLACK_BOT_TOKEN)."""
        return bool(self.client_id and self.client_secret and not self.bot_token)

    @property
    def mode(self) -> str:
        """console (no credentials), socket (app-level token) or http (one bot token, or OAuth)."""
        if self.oauth:
            return "http"
        if not self.bot_token:
            return "console"
        return "socket" if self.app_token else "http"

    def __repr__(self) -> str:  # never print tokens, even by accident
        return (
            f"Settings(mode={self.mode!r}, oauth={self.oauth}, bot_token={_secret_repr(self.bot_token)}, "
            f"api_url={self.api_url!r}, database_url={_redact_url(self.database_url)!r}, port={self.port})"
        )


def _redact_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, hint: str) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number: {hint}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: {hint}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float, hint: str) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number: {hint}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: {hint}")
    return value


def _token(env: Mapping[str, str], name: str, prefix: str, where: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    if not value.startswith(prefix):
        raise ConfigError(f"{name} should start with '{prefix}': copy it from {where}")
    return value


def parse_time(value: str) -> tuple[int, int]:
    hour, sep, minute = value.strip().partition(":")
    if not sep or not hour.isdigit() or not minute.isdigit() or int(hour) > 23 or int(minute) > 59:
        raise ValueError(f"{value!r} is not a time like 10:00")
    return int(hour), int(minute)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def load_settings(env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
    """Read settings from `env` (default: the process environment, after loading `.env`)."""
    if env is None:
        if dotenv is not None and dotenv.is_file():
            from dotenv import load_dotenv

            load_dotenv(dotenv, override=False)
        env = os.environ

    bot_token = _token(env, "SLACK_BOT_TOKEN", "xoxb-", "OAuth & Permissions > Bot User OAuth Token")
    app_token = _token(
        env, "SLACK_APP_TOKEN", "xapp-", "Basic Information > App-Level Tokens (connections:write)"
    )
    signing_secret = env.get("SLACK_SIGNING_SECRET", "").strip() or None
    if bot_token and not app_token and not signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is missing: HTTP mode needs it (Basic Information > Signing Secret), "
            "or set SLACK_APP_TOKEN for Socket Mode"
        )
    if app_token and not bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN is missing: Socket Mode needs the bot token as well as SLACK_APP_TOKEN"
        )

    client_id = env.get("SLACK_CLIENT_ID", "").strip() or None
    client_secret = env.get("SLACK_CLIENT_SECRET", "").strip() or None
    if bool(client_id) != bool(client_secret):
        have, missing = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")[:: 1 if client_id else -1]
        raise ConfigError(
            f"{missing} is missing: OAuth installs need both {have} and {missing} "
            "(Basic Information > App Credentials); unset both for a single workspace"
        )
    oauth = bool(client_id and client_secret and not bot_token)
    if oauth and app_token:
        raise ConfigError(
            "SLACK_APP_TOKEN cannot be used with SLACK_CLIENT_ID: installs from many workspaces need the "
            "HTTP server; unset SLACK_APP_TOKEN"
        )
    if oauth and not signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is missing: OAuth installs need it (Basic Information > Signing Secret)"
        )
    scopes = DEFAULT_BOT_SCOPES
    raw_scopes = env.get("SLACK_SCOPES", "").strip()
    if raw_scopes:
        scopes = tuple(s.strip() for s in raw_scopes.replace(" ", ",").split(",") if s.strip())
        bad = [s for s in scopes if not all(c.isalnum() or c in ":._-" for c in s)]
        if bad:
            raise ConfigError(
                f"SLACK_SCOPES has {bad[0]!r}, which is not a scope: list bot scopes separated by commas"
            )

    api_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL
    parsed = urlparse(api_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"SLACK_API_URL={api_url!r} is not an http(s) URL: leave it unset to use Slack's")
    if not api_url.endswith("/"):
        api_url += "/"

    database_url = env.get("DATABASE_URL", "").strip() or Settings.database_url
    if database_url.startswith("postgres://"):  # the form some platforms hand out
        database_url = "postgresql://" + database_url[len("postgres://") :]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    if not (database_url.startswith("sqlite:") or database_url.startswith("postgresql+")):
        raise ConfigError("DATABASE_URL must be a sqlite:/// or postgresql:// URL")

    port = _int(env, "PORT", 3000, 1, 65535, "use a TCP port between 1 and 65535")
    model_path = env.get("TRUCE_MODEL_PATH", "").strip()

    level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"LOG_LEVEL={level!r} is not one of DEBUG, INFO, WARNING, ERROR")

    hash_key = env.get("TRUCE_PULSE_KEY", "").strip()
    if (bot_token or oauth) and len(hash_key) < 16:
        raise ConfigError(
            "TRUCE_PULSE_KEY is missing or shorter than 16 characters: set a long random secret "
            '(e.g. `python -c "import secrets; print(secrets.token_hex(32))"`); it keeps pulse answers anonymous'
        )
    tz = env.get("TRUCE_TIMEZONE", "").strip() or "UTC"
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "America"
        raise ConfigError(f"TRUCE_TIMEZONE={tz!r} is not an IANA timezone such as Europe/Berlin") from None

    day = (env.get("TRUCE_PULSE_DAY", "").strip() or "mon").lower()[:3]
    if day not in WEEKDAYS:
        raise ConfigError(f"TRUCE_PULSE_DAY={day!r} is not a weekday (mon..sun)")
    pulse_time = env.get("TRUCE_PULSE_TIME", "").strip() or "10:00"
    try:
        parse_time(pulse_time)
    except ValueError as exc:
        raise ConfigError(f"TRUCE_PULSE_TIME: {exc}") from None

    return Settings(
        bot_token=bot_token,
        signing_secret=signing_secret,
        app_token=app_token,
        client_id=client_id,
        client_secret=client_secret,
        scopes=scopes,
        api_url=api_url,
        database_url=database_url,
        console_database_url=env.get("TRUCE_CONSOLE_DATABASE_URL", "").strip()
        or Settings.console_database_url,
        port=port,
        model_path=Path(model_path) if model_path else None,
        log_level=level,
        pulse_hash_key=hash_key or "console-only-key",
        pulse_timezone=tz,
        pulse_weekday=WEEKDAYS.index(day),
        pulse_time=pulse_time,
        pulse_close_after_days=_float(
            env, "TRUCE_PULSE_CLOSE_AFTER_DAYS", 3.0, 0.01, 14, "days a poll stays open, e.g. 3"
        ),
        pulse_min_responses=_int(
            env,
            "TRUCE_PULSE_MIN_RESPONSES",
            MIN_ANONYMITY,
            MIN_ANONYMITY,
            1000,
            f"the anonymity threshold cannot go below {MIN_ANONYMITY}",
        ),
        pulse_grace_hours=_float(env, "TRUCE_PULSE_GRACE_HOURS", 12.0, 0, 168, "hours, e.g. 12"),
        web_threads=_int(env, "WEB_THREADS", 16, 1, 256, "number of threads that handle web requests"),
        answer_processes=_int(
            env,
            "WEB_ANSWER_PROCESSES",
            1,
            0,
            8,
            "processes beside each web process that answer mentions and DMs (0: the web process does)",
        ),
        max_body_bytes=_int(env, "TRUCE_MAX_BODY_BYTES", 1_000_000, 10_000, 50_000_000, "bytes"),
        api_timeout=_float(
            env, "SLACK_API_TIMEOUT", 10.0, 0.5, 60, "seconds to wait for Slack's Web API, e.g. 10"
        ),
    )
