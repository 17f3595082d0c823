"""`python -m bot pulse export`: closed polls' published results as CSV, thresholds kept."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from bot.app import make_client
from bot.presenters.pulse import PulseService
from bot.storage.db import connect
from bot.storage.pulse_repository import PulseRepository
from model.playbook import load_playbook
from tests.conftest import ROOT

VOTES = {  # user: (side, score, cause)
    "U0EXPORT01": ("sales", 2, "lead_quality"),
    "U0EXPORT02": ("sales", 3, "lead_quality"),
    "U0EXPORT03": ("sales", 2, "pricing_dispute"),
    "U0EXPORT04": ("marketing", 4, "lead_quality"),
    "U0EXPORT05": ("marketing", 5, "nothing"),
    "U0EXPORT06": ("marketing", 4, "credit_dispute"),
}


def on_poll(poll) -> dict:
    """Where a click on `poll` comes from: its own message."""
    return {"channel_id": poll.channel_id, "message_ts": poll.message_ts}


def run_a_week(service: PulseService, channel: str, votes: dict) -> None:
    service.repo.opt_in(channel, "T0TRUCE01", 0, "10:00", "UTC", datetime.now(UTC) - timedelta(days=30))
    report = service.send_now([channel])
    assert report.ok
    (poll,) = service.repo.polls(["open"], [channel])
    for user, (side, score, cause) in votes.items():
        service.vote(poll.id, user, "side", side, **on_poll(poll))
        service.vote(poll.id, user, "score", score, **on_poll(poll))
        service.vote(poll.id, user, "cause", cause, **on_poll(poll))
    assert service.close_due(datetime.now(UTC), channel_ids=[channel], force=True).ok


def test_export_has_one_row_per_closed_poll_and_blanks_below_the_threshold(settings, fake_slack, tmp_path):
    service = PulseService(
        settings, PulseRepository(connect(settings.database_url)), make_client(settings), load_playbook()
    )
    run_a_week(service, "C0EXPORT01", VOTES)
    run_a_week(service, "C0EXPORT02", dict(list(VOTES.items())[:2]))

    env = {"DATABASE_URL": settings.database_url, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "pulse", "export"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["channel_id"] for r in rows] == ["C0EXPORT01", "C0EXPORT02"]
    full, few = rows
    assert full["responses"] == "6"
    assert full["avg_score"] == "3.33"
    assert (full["sales_responses"], full["marketing_responses"]) == ("3", "3")
    assert (full["sales_avg_score"], full["marketing_avg_score"]) == ("2.33", "4.33")
    assert full["top_causes"].startswith("lead_quality (3)")
    assert few["responses"] == "2"
    assert few["avg_score"] == few["sales_responses"] == few["top_causes"] == ""
    assert not any(user in result.stdout for user in VOTES)
    assert "exported the results of 2 closed polls" in result.stderr
