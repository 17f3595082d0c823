"""Pulse fan-out: 1,000 workspaces x 3 channels whose weekly poll falls due in the same minute, posted by
the real clock (bot.scheduler.Clock: each workspace's token from the installation store, 4 workspaces
at a time) through a loopback Web API that answers HTTP 429 with Retry-After: 1 to bursts (more than
one message a second in a channel) and, to stand for a workspace Slack is throttling, to the first post
of every `--limited-every`th workspace.

    .venv/bin/python -m bench.fanout [--workspaces 1000] [--channels 3] [--workers 4] [--limited-every 10]

SQLite in a temporary folder, or a fresh PostgreSQL database when TRUCE_TEST_POSTGRES_URL is set.
Prints how long the tick took, what Slack answered, and whether every poll was posted exactly once.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import func, select

from bot.fakeslack import FakeSlack
from bot.scheduler import Clock
from bot.settings import Settings
from bot.storage.db import connect
from bot.storage.models import PulseChannel, PulsePoll

PULSE_KEY = "bench-pulse-key-0123456789abcdef"


class Limiter:
    """HTTP 429 + Retry-After: 1 for a second message within a second in one channel, and for the
    first post of every n-th workspace."""

    def __init__(self, limited_every: int):
        self.limited_every = limited_every
        self.last: dict[str, float] = {}
        self.throttled_once: set[str] = set()
        self.answers = Counter()
        self.lock = threading.Lock()

    def __call__(self, method: str, params: dict, attempt: int):
        if method != "chat.postMessage":
            return None
        channel = str(params.get("channel"))
        token = str(params.get("_token", ""))
        now = time.monotonic()
        with self.lock:
            number = int(token.rsplit("-", 1)[-1]) if token.rsplit("-", 1)[-1].isdigit() else 0
            if self.limited_every and number % self.limited_every == 0 and token not in self.throttled_once:
                self.throttled_once.add(token)
                self.answers["429 (workspace throttled)"] += 1
                return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
            if now - self.last.get(channel, -10.0) < 1.0:
                self.answers["429 (channel burst)"] += 1
                return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
            self.last[channel] = now
            self.answers["200"] += 1
        return None


def database_url(folder: Path) -> str:
    server = os.environ.get("TRUCE_TEST_POSTGRES_URL")
    if server:
        from tests.pg import fresh_database

        return fresh_database(server)
    return f"sqlite:///{folder / 'fanout.db'}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--limited-every", type=int, default=10)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        db_url = database_url(Path(tmp))
        settings = replace(
            Settings(),
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            signing_secret="bench",
            api_url=fake.api_url,
            database_url=db_url,
            pulse_hash_key=PULSE_KEY,
        )
        sessions = connect(db_url)
        clock = Clock(settings, sessions, workers=args.workers)
        now = datetime.now(UTC).replace(second=30, microsecond=0)
        run = now - timedelta(minutes=1)
        started = time.perf_counter()
        channels = []
        for n in range(args.workspaces):
            team = f"T{n:08d}"
            clock.workspaces.store.save(
                Installation(
                    app_id="A0TRUCE001",
                    team_id=team,
                    team_name=f"Bench {n}",
                    bot_token=f"xoxb-bench-{n}",
                    bot_id=f"B{n:08d}",
                    bot_user_id=f"U{n:08d}",
                    bot_scopes="chat:write",
                    user_id=f"UADMIN{n:04d}",
                )
            )
            channels += [(team, f"C{n:07d}{c}") for c in range(args.channels)]
        with sessions.begin() as session:
            session.add_all(
                PulseChannel(
                    team_id=team,
                    channel_id=channel,
                    weekday=run.weekday(),
                    time=f"{run:%H:%M}",
                    timezone="UTC",
                    active_since=now - timedelta(days=8),
                )
                for team, channel in channels
            )
        setup = time.perf_counter() - started
        limiter = Limiter(args.limited_every)
        fake.fault = limiter

        started = time.perf_counter()
        report = clock.tick(now)
        fanout = time.perf_counter() - started

        started = time.perf_counter()
        due_after = clock.due(now + timedelta(minutes=1))
        idle = clock.tick(now + timedelta(minutes=1))
        idle_seconds = time.perf_counter() - started

        posted = Counter(c.params.get("channel") for c in fake.calls_to("chat.postMessage"))
        wrong_token = sum(
            1
            for c in fake.calls_to("chat.postMessage")
            if c.params.get("_token") != f"xoxb-bench-{int(str(c.params.get('channel'))[1:8])}"
        )
        with sessions() as session:
            open_polls = session.scalar(
                select(func.count()).select_from(PulsePoll).where(PulsePoll.status == "open")
            )
        expected = {channel for _, channel in channels}
        exactly_once = set(posted) == expected and all(n == 1 for n in posted.values())
        figures = {
            "backend": "postgresql" if db_url.startswith("postgresql") else "sqlite",
            "workspaces": args.workspaces,
            "channels": len(channels),
            "workers": args.workers,
            "setup_seconds": round(setup, 1),
            "fanout_tick_seconds": round(fanout, 1),
            "polls_per_second": round(len(channels) / fanout, 1),
            "report": report.line(),
            "web_api_answers": dict(limiter.answers),
            "users_conversations_calls": len(fake.calls_to("users.conversations")),
            "polls_posted": sum(posted.values()),
            "channels_with_a_poll": len(posted),
            "open_polls_in_db": open_polls,
            "posted_with_another_workspaces_token": wrong_token,
            "every_poll_exactly_once": exactly_once,
            "workspaces_due_a_minute_later": len(due_after),
            "next_tick_seconds": round(idle_seconds, 3),
            "next_tick_sent": idle.counts.get("sent", 0),
        }
        sessions.kw["bind"].dispose()
    for key, value in figures.items():
        print(f"{key:40s} {value}")
    return figures


if __name__ == "__main__":
    main()
