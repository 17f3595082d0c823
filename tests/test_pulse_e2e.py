"""A whole pulse week, end to end: the real `web` process (gunicorn + Bolt) takes signed Slack
requests, the operator commands `python -m bot pulse send|close` and the `clock` process run as
separate processes on the same database, and a loopback Web API records everything Truce posts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot import ids
from bot.fakeslack import BOT_USER_ID, TEAM_ID, FakeSlack
from bot.storage.db import connect
from bot.storage.models import PulsePoll, PulseResponse
from bot.storage.pulse_repository import PulseRepository
from tests.conftest import server_env
from tests.remedy_payloads import all_stored_text
from tests.slack import block_action, envelope, post_signed_interaction, post_signed_json

BUSY = "C0E2EBUSY1"  # six people answer here
QUIET = "C0E2EQUIET"  # two people answer here
SALES = ["U0E2ES0001", "U0E2ES0002", "U0E2ES0003"]
MARKETING = ["U0E2EM0001", "U0E2EM0002", "U0E2EM0003"]
QUIET_USERS = ["U0E2EQ0001", "U0E2EQ0002"]
EVERYONE = SALES + MARKETING + QUIET_USERS


def truce(fake: FakeSlack, db_url: str, artifact, workdir, *args: str) -> subprocess.CompletedProcess:
    """`python -m bot <args>` as an operator would run it."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=workdir,
        env=server_env(fake, db_url, artifact),
        capture_output=True,
        text=True,
        timeout=120,
    )


def join(web, channel: str) -> None:
    event = {"type": "member_joined_channel", "user": BOT_USER_ID, "channel": channel, "channel_type": "C"}
    assert post_signed_json(web.events_url, envelope({**event, "team": TEAM_ID})).status == 200


def polls_in(fake: FakeSlack) -> dict[str, dict]:
    return {
        c.params["channel"]: c.params
        for c in fake.calls_to("chat.postMessage")
        if c.params.get("text", "").startswith("Weekly pulse")
    }


def element(poll: dict, action_id: str) -> dict:
    elements = [e for b in poll["blocks"] if b["type"] == "actions" for e in b["elements"]]
    return next(e for e in elements if e["action_id"] == action_id)


def answer(web, fake: FakeSlack, poll: dict, ts: str, user: str, action_id: str, choice: str | None = None):
    """One click on the posted poll, signed like Slack's, and wait for its private confirmation."""
    found = element(poll, action_id)
    action = {"action_id": action_id, "block_id": "b", "type": found["type"]}
    if found["type"] == "button":
        action |= {"value": found["value"], "text": found["text"]}
    else:
        action |= {"selected_option": next(o for o in found["options"] if o["value"].endswith(":" + choice))}
    before = len(fake.calls_to("chat.postEphemeral"))
    message = {"type": "message", "ts": ts, "text": poll["text"], "blocks": poll["blocks"], "bot_id": "B1"}
    payload = block_action(action, fake.response_url(), user=user, channel=poll["channel"], message=message)
    payload["container"]["message_ts"] = ts
    reply = post_signed_interaction(web.events_url, payload)
    assert reply.status == 200 and reply.seconds < 3
    confirmations = fake.wait_for("chat.postEphemeral", before + 1, timeout=10)
    assert len(confirmations) == before + 1
    return confirmations[-1].params


def vote(web, fake, poll, ts, user, side, score, cause):
    answer(web, fake, poll, ts, user, f"{ids.PULSE_SIDE}:{side}")
    answer(web, fake, poll, ts, user, f"{ids.PULSE_SCORE}:{score}")
    return answer(web, fake, poll, ts, user, ids.PULSE_CAUSE, cause)


def test_a_full_pulse_week_is_anonymous_and_posts_everything_once(web, slack_api, artifact, tmp_path):
    db = connect(web.db_url)
    # Inviting Truce opts both channels in.
    join(web, BUSY)
    join(web, QUIET)
    assert len(slack_api.wait_for("chat.postMessage", 2, timeout=10)) == 2

    # The operator sends this week's polls; a second run in the same week posts nothing.
    sent = truce(slack_api, web.db_url, artifact, tmp_path, "pulse", "send")
    assert sent.returncode == 0, sent.stderr
    again = truce(slack_api, web.db_url, artifact, tmp_path, "pulse", "send")
    assert again.returncode == 0, again.stderr
    polls = polls_in(slack_api)
    assert sorted(polls) == [BUSY, QUIET]
    assert (
        sum(1 for c in slack_api.calls_to("chat.postMessage") if c.params["text"].startswith("Weekly")) == 2
    )
    with db() as session:
        ts = {p.channel_id: p.message_ts for p in session.scalars(select(PulsePoll))}

    # Six people answer in the busy channel; one changes their score. Two answer in the quiet one.
    busy, quiet = polls[BUSY], polls[QUIET]
    for user, score, cause in zip(
        SALES, (1, 3, 4), ("lead_quality", "lead_quality", "pricing_dispute"), strict=True
    ):
        vote(web, slack_api, busy, ts[BUSY], user, "sales", score, cause)
    for user, score, cause in zip(
        MARKETING, (4, 5, 5), ("communication_gap",) * 2 + ("lead_quality",), strict=True
    ):
        vote(web, slack_api, busy, ts[BUSY], user, "marketing", score, cause)
    changed = answer(web, slack_api, busy, ts[BUSY], SALES[0], f"{ids.PULSE_SCORE}:2")
    assert "Sales · 2/5 · Lead quality and hand-off" in changed["text"]
    for user in QUIET_USERS:
        vote(web, slack_api, quiet, ts[QUIET], user, "other", 3, "nothing")

    # Every click was confirmed to the person who clicked, and only to them.
    confirmations = slack_api.calls_to("chat.postEphemeral")
    assert len(confirmations) == 6 * 3 + 1 + 2 * 3
    assert {c.params["user"] for c in confirmations} == set(EVERYONE)
    for c in confirmations:
        others = set(EVERYONE) - {c.params["user"]}
        assert not any(other in json.dumps(c.params) for other in others)
    # The poll shows the number of responses, nothing else.
    updates = slack_api.wait_for("chat.update", 8, timeout=10)
    busy_counts = [u.params["text"] for u in updates if u.params["channel"] == BUSY]
    assert len(busy_counts) == 6 and any("6 responses so far" in t for t in busy_counts)

    # The operator closes the polls: summaries, a chart, and the voter hashes are gone.
    slack_api.reset()
    closed = truce(slack_api, web.db_url, artifact, tmp_path, "pulse", "close")
    assert closed.returncode == 0, closed.stderr
    summaries = {c.params["channel"]: c.params for c in slack_api.calls_to("chat.postMessage")}
    assert sorted(summaries) == [BUSY, QUIET]
    text = summaries[BUSY]["text"]
    assert "6 people answered" in text and "(Sales 3 · Marketing 3)" in text
    assert "Average score: 3.8/5" in text  # (2 + 3 + 4 + 4 + 5 + 5) / 6
    assert "Lead quality and hand-off (3)" in text
    blocks = json.dumps(summaries[BUSY]["blocks"], ensure_ascii=False)
    assert "Sales *3.0/5* · Marketing *4.7/5*" in blocks
    assert "Write a lead SLA this week" in blocks  # the remedy for the top cause
    assert "too few to show" in summaries[QUIET]["text"] and "/5" not in summaries[QUIET]["text"]
    (chart,) = slack_api.calls_to("files.completeUploadExternal")
    assert chart.params["channel_id"] == BUSY and chart.params["thread_ts"]
    with db() as session:
        rows = {p.channel_id: p for p in session.scalars(select(PulsePoll))}
        assert (rows[BUSY].status, rows[BUSY].responses) == ("closed", 6)
        assert rows[BUSY].avg_score == pytest.approx(23 / 6)
        assert (rows[QUIET].responses, rows[QUIET].avg_score) == (2, None)
        assert session.scalars(select(PulseResponse.voter_hash)).all() == [None] * 8

    # Too late to change anything now.
    late = answer(web, slack_api, busy, ts[BUSY], MARKETING[0], f"{ids.PULSE_SCORE}:1")
    assert "has closed" in late["text"]

    # No user id anywhere: not in the database, not in anything posted, not in any log.
    stored = all_stored_text(db)
    public = json.dumps([c.params for c in slack_api.calls if c.method != "chat.postEphemeral"])
    logs = web.logs() + sent.stderr + again.stderr + closed.stderr
    assert f"Truce joined {BUSY}" in logs and "pulse send: sent 2" in logs and "pulse close: closed 2" in logs
    for user in EVERYONE:
        assert user not in stored, f"{user} is in the database"
        assert user not in public, f"{user} was posted"
        assert user not in logs, f"{user} was logged"


def test_the_clock_posts_a_due_poll_once_and_stops_cleanly(slack_api, artifact, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'clock.db'}"
    repo = PulseRepository(connect(db_url))
    due = datetime.now(UTC) - timedelta(minutes=2)
    repo.opt_in("C0CLOCK001", TEAM_ID, due.weekday(), f"{due:%H:%M}", "UTC", due - timedelta(hours=1))
    log = tmp_path / "clock.log"
    with open(log, "w") as out:

        def start_clock() -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-m", "bot", "clock"],
                cwd=tmp_path,
                env=server_env(slack_api, db_url, artifact),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        clock = start_clock()
        try:
            posted = slack_api.wait_for("chat.postMessage", 1, timeout=60)
            assert [c.params["channel"] for c in posted] == ["C0CLOCK001"]
            # Restarting the clock does not post this week's poll again.
            clock.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            assert clock.wait(15) == 0
            assert time.monotonic() - stopped_at < 10
            second = start_clock()
            try:
                deadline = time.monotonic() + 60
                while "clock: started" not in log.read_text().split("clock: stopped")[-1]:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
                time.sleep(2)  # its first tick runs at start
            finally:
                second.send_signal(signal.SIGINT)
                assert second.wait(15) == 0
        finally:
            if clock.poll() is None:
                clock.kill()
    assert len(slack_api.calls_to("chat.postMessage")) == 1
    assert "SIGTERM received" in log.read_text()
