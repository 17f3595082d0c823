"""Closing the loop end to end: a remedy picked with Try under a mention reply, the modal, the public
line in the thread, the check-in (`python -m bot checkins send`), anonymous answers, the result with
before/since figures (`checkins close`), `/remedy tried`, and Try from a DM or a private card.

The real `web` process takes signed Slack requests; the operator commands run as separate processes
on the same database; a loopback Web API records everything Truce posts."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import select, update

from bot import ids
from bot.fakeslack import BOT_USER_ID, TEAM_ID
from bot.storage.db import connect
from bot.storage.experiment_repository import ExperimentRepository
from bot.storage.models import (
    Checkin,
    CheckinAnswer,
    DiagnosisEvent,
    Experiment,
    PulsePoll,
    PulseResponse,
)
from bot.views.validate import message_problems, view_problems
from tests.conftest import server_env
from tests.slack import (
    PULSE_KEY,
    block_action,
    envelope,
    mention_event,
    post,
    post_signed_form,
    post_signed_interaction,
    post_signed_json,
    sign,
    slash_command,
)
from tests.test_pulse_e2e import truce

CHANNEL = "C0EXPTEAM1"
ELSEWHERE = "C0NOTRUCE1"  # a channel Truce is not in
OWNER = "U0OWNER001"
PICKER = "U0PICKER01"
VOTERS = ["U0VOTER001", "U0VOTER002", "U0VOTER003", "U0VOTER004"]
REMEDY = "Write a lead SLA this week"


def buttons(blocks: list[dict]) -> list[dict]:
    found = []
    for block in blocks:
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
        found += [e for e in block.get("elements", []) if e.get("type") == "button"]
    return found


def try_options(blocks: list[dict]) -> tuple[dict, list[dict]]:
    """The Try menu of a reply, and its options."""
    menu = next(
        e
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.TRY_REMEDY_MENU
    )
    return menu, menu["options"]


def chosen(menu: dict, picked: dict) -> dict:
    """What Slack sends when a menu option is picked."""
    return {
        "action_id": menu["action_id"],
        "type": menu["type"],
        "selected_option": picked,
        "block_id": "try",
    }


def click(web, slack_api, button: dict, *, user: str, channel: str, message: dict | None = None, **container):
    if "selected_option" in button:
        action = button
    else:
        action = {
            "action_id": button["action_id"],
            "block_id": "b",
            "type": "button",
            "value": button["value"],
        }
    payload = block_action(action, slack_api.response_url(), user=user, channel=channel, message=message)
    if message is not None:
        payload["container"]["message_ts"] = message["ts"]
    if message is None:
        payload.pop("message")
    payload["container"].update(container)
    reply = post_signed_interaction(web.events_url, payload)
    assert reply.status == 200 and reply.seconds < 3
    return payload


def open_modal(web, slack_api, button: dict, **kw) -> dict:
    before = len(slack_api.calls_to("views.open"))
    payload = click(web, slack_api, button, **kw)
    opened = slack_api.wait_for("views.open", before + 1, timeout=10)
    assert len(opened) == before + 1
    assert opened[-1].params["trigger_id"] == payload["trigger_id"]
    view = opened[-1].params["view"]
    if isinstance(view, str):
        view = json.loads(view)
    assert view_problems(view) == []
    return view


def submission(
    view: dict, *, user: str, owner: str | None, checkin_on: date, channel: str | None = None
) -> dict:
    remedy_block = next(b for b in view["blocks"] if b.get("block_id") == ids.TRY_BLOCK_REMEDY)
    values = {
        ids.TRY_BLOCK_REMEDY: {
            ids.TRY_REMEDY_INPUT: {
                "type": "static_select",
                "selected_option": remedy_block["element"]["initial_option"],
            }
        },
        ids.TRY_BLOCK_OWNER: {ids.TRY_OWNER_INPUT: {"type": "users_select", "selected_user": owner}},
        ids.TRY_BLOCK_DATE: {
            ids.TRY_DATE_INPUT: {"type": "datepicker", "selected_date": checkin_on.isoformat()}
        },
    }
    if channel is not None:
        values[ids.TRY_BLOCK_CHANNEL] = {
            ids.TRY_CHANNEL_INPUT: {"type": "conversations_select", "selected_conversation": channel}
        }
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "truce-test"},
        "user": {"id": user, "username": "pat", "name": "pat", "team_id": TEAM_ID},
        "api_app_id": "A0TRUCE001",
        "token": "VERIFICATION_TOKEN_PLACEHOLDER",
        "trigger_id": f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex[:8]}",
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {
            "id": "V0TRY00001",
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "blocks": view["blocks"],
            "state": {"values": values},
            "hash": "1.abc",
        },
    }


def announcements(slack_api) -> list[dict]:
    return [
        c.params for c in slack_api.calls_to("chat.postMessage") if "are trying" in c.params.get("text", "")
    ]


def posted_with(slack_api, words: str) -> list[dict]:
    return [c.params for c in slack_api.calls_to("chat.postMessage") if words in c.params.get("text", "")]


def seed_pulse_history(db, started: datetime) -> None:
    """Two published polls in the two weeks before the start and two since, plus diagnoses."""
    polls = [
        (started - timedelta(days=12), [(2, "lead_quality"), (2, "lead_quality"), (3, "nothing")]),
        (started - timedelta(days=5), [(2, "lead_quality"), (3, "lead_quality"), (3, "communication_gap")]),
        (started + timedelta(days=2), [(4, "nothing"), (4, "lead_quality"), (3, "communication_gap")]),
        (started + timedelta(days=8), [(4, "nothing"), (5, "nothing"), (3, "budget_competition")]),
    ]
    with db.begin() as session:
        for n, (opened, answers) in enumerate(polls):
            poll = PulsePoll(
                channel_id=CHANNEL,
                period_key=f"2026-W{10 + n:02d}",
                status="closed",
                opened_at=opened,
                closes_at=opened + timedelta(days=3),
                closed_at=opened + timedelta(days=3),
                responses=len(answers),
                avg_score=sum(s for s, _ in answers) / len(answers),
            )
            session.add(poll)
            session.flush()
            for score, cause in answers:
                session.add(
                    PulseResponse(poll_id=poll.id, voter_hash=None, score=score, cause=cause, side="other")
                )
        for days in (3, 9):
            session.add(
                DiagnosisEvent(
                    team_id=TEAM_ID,
                    channel_id=CHANNEL,
                    label="lead_quality",
                    surface="mention",
                    created_at=started - timedelta(days=days),
                )
            )


def test_try_from_a_mention_reply_to_the_check_in_result(web, slack_api, artifact, tmp_path):
    db = connect(web.db_url)
    join = {"type": "member_joined_channel", "user": BOT_USER_ID, "channel": CHANNEL, "channel_type": "C"}
    assert post_signed_json(web.events_url, envelope({**join, "team": TEAM_ID})).status == 200
    slack_api.wait_for("chat.postMessage", 1, timeout=10)
    slack_api.reset()

    # Someone asks Truce in the channel; the reply in the thread offers Try on each remedy.
    mention = mention_event(
        "the leads from the webinar were junk again, sales won't call them", channel=CHANNEL
    )
    mention_ts = mention["event"]["ts"]
    assert post_signed_json(web.events_url, mention).status == 200
    (reply,) = slack_api.wait_for("chat.postMessage", 1, timeout=10)
    assert reply.params["thread_ts"] == mention_ts
    menu, options = try_options(reply.params["blocks"])
    assert len(options) == 3 and all(o["text"]["text"].startswith("Try: ") for o in options)
    assert options[0]["text"]["text"] == f"Try: {REMEDY}"
    reply_message = {
        "type": "message",
        "ts": reply.reply["ts"],
        "thread_ts": mention_ts,
        "text": reply.params["text"],
        "blocks": reply.params["blocks"],
        "bot_id": "B1",
    }

    # Try opens the modal: the remedy prefilled, an optional owner, a check-in date 14 days on.
    view = open_modal(
        web, slack_api, chosen(menu, options[0]), user=PICKER, channel=CHANNEL, message=reply_message
    )
    assert view["callback_id"] == ids.TRY_VIEW
    by_block = {b.get("block_id"): b for b in view["blocks"]}
    assert by_block[ids.TRY_BLOCK_REMEDY]["element"]["initial_option"]["text"]["text"] == REMEDY
    assert by_block[ids.TRY_BLOCK_OWNER]["element"]["type"] == "users_select"
    assert by_block[ids.TRY_BLOCK_OWNER]["optional"] is True
    today = datetime.now(UTC).date()
    assert by_block[ids.TRY_BLOCK_DATE]["element"]["initial_date"] == (today + timedelta(days=14)).isoformat()
    assert ids.TRY_BLOCK_CHANNEL not in by_block  # picked in the channel: no need to ask

    # A check-in date in the past is refused in the modal, and nothing is posted.
    bad = post_signed_interaction(
        web.events_url, submission(view, user=PICKER, owner=OWNER, checkin_on=today - timedelta(days=1))
    )
    assert bad.status == 200 and bad.json()["response_action"] == "errors"
    assert ids.TRY_BLOCK_DATE in bad.json()["errors"]
    assert announcements(slack_api) == []

    # Saving posts one public line in the thread where it was picked; a redelivery changes nothing.
    checkin_on = today + timedelta(days=14)
    body = submission(view, user=PICKER, owner=OWNER, checkin_on=checkin_on)
    saved = post_signed_interaction(web.events_url, body)
    assert saved.status == 200 and saved.seconds < 3
    assert saved.body in ("", "{}") or "errors" not in saved.body
    form = urlencode({"payload": json.dumps(body)})
    redelivery = sign(form, timestamp=int(time.time()) - 5) | {"X-Slack-Retry-Num": "1"}
    assert post(web.events_url, form, "application/x-www-form-urlencoded", redelivery).status == 200
    (line,) = announcements(slack_api)
    assert line["channel"] == CHANNEL and line["thread_ts"] == mention_ts
    assert message_problems(line) == []
    section = line["blocks"][0]["text"]["text"]
    assert section == (
        f":test_tube: Sales and Marketing are trying *{REMEDY}* (owner <@{OWNER}>), "
        f"check-in on {checkin_on.day} {checkin_on:%b}"
    )

    # Two weeks pass (the experiment is moved back in time), with pulse polls before and since.
    started = datetime.now(UTC) - timedelta(days=10)
    with db.begin() as session:
        session.execute(update(Experiment).values(created_at=started, started_on=started.date()))
    seed_pulse_history(db, started)

    # The operator sends the check-ins: posted once in the thread, however often it runs.
    slack_api.reset()
    for _ in range(2):
        sent = truce(slack_api, web.db_url, artifact, tmp_path, "checkins", "send")
        assert sent.returncode == 0, sent.stderr
    (checkin,) = posted_with(slack_api, "help?")
    assert checkin["channel"] == CHANNEL and checkin["thread_ts"] == mention_ts
    assert checkin["text"].startswith(f"Did {REMEDY} help?")
    assert message_problems(checkin) == []
    choices = {b["text"]["text"]: b for b in buttons(checkin["blocks"])}
    assert list(choices) == ["Helped", "Partly", "Not yet", "We stopped"]
    with db() as session:
        checkin_row = session.scalars(select(Checkin)).one()
    checkin_message = {"type": "message", "ts": checkin_row.message_ts, "thread_ts": mention_ts, "blocks": []}

    # Four people answer anonymously; one changes their mind. Each is confirmed only to them.
    for user, choice in zip(VOTERS, ("Helped", "Not yet", "Partly", "Not yet"), strict=True):
        click(web, slack_api, choices[choice], user=user, channel=CHANNEL, message=checkin_message)
    click(web, slack_api, choices["Helped"], user=VOTERS[1], channel=CHANNEL, message=checkin_message)
    confirmations = slack_api.wait_for("chat.postEphemeral", 5, timeout=10)
    assert len(confirmations) == 5 and {c.params["user"] for c in confirmations} == set(VOTERS)
    assert "Got it: Helped" in confirmations[-1].params["text"]
    with db() as session:
        hashes = session.scalars(select(CheckinAnswer.voter_hash)).all()
        answers = sorted(session.scalars(select(CheckinAnswer.answer)).all())
        stored = json.dumps([list(r) for r in session.execute(select(CheckinAnswer.__table__))], default=str)
    assert answers == ["helped", "helped", "not_yet", "partly"]
    keyed = {
        hmac.new(PULSE_KEY.encode(), f"checkin:{checkin_row.id}:{u}".encode(), hashlib.sha256).hexdigest()
        for u in VOTERS
    }
    assert set(hashes) == keyed  # keyed: without TRUCE_PULSE_KEY nobody can test a user id against it
    assert not any(
        hashlib.sha256(f"checkin:{checkin_row.id}:{u}".encode()).hexdigest() in hashes for u in VOTERS
    )
    for user in VOTERS:
        assert user not in stored

    # The operator closes it: the result in the thread, with before/since figures, once.
    slack_api.reset()
    for _ in range(2):
        closed = truce(slack_api, web.db_url, artifact, tmp_path, "checkins", "close")
        assert closed.returncode == 0, closed.stderr
    (result,) = posted_with(slack_api, "Check-in: did")
    assert result["channel"] == CHANNEL and result["thread_ts"] == mention_ts
    assert message_problems(result) == []
    text = result["blocks"][0]["text"]["text"]
    assert "4 answered: Helped 2 · Partly 1 · Not yet 1 · We stopped 0. Most say it helped." in text
    # Before: scores 2,2,3,2,3,3 (2.5), lead quality named 4 of 6; since: 4,4,3,4,5,3 (3.8), 1 of 6.
    # Diagnoses: 2 seeded before; the mention above was diagnosed since.
    assert f"Since you started *{REMEDY}* on {started.day} {started:%b}" in text
    assert "score 2.5 → 3.8" in text
    assert "named by 4 of 6 → 1 of 6" in text
    assert "2 → 1 times" in text
    assert "2 weeks before vs since, 2 → 2 pulse polls" in text
    with db() as session:
        assert session.scalars(select(CheckinAnswer.voter_hash)).all() == [None] * 4
        row = session.scalars(select(Checkin)).one()
        assert (row.status, row.responses, row.helped, row.partly, row.not_yet, row.stopped) == (
            "closed",
            4,
            2,
            1,
            1,
            0,
        )
    late = click(
        web, slack_api, choices["We stopped"], user=VOTERS[0], channel=CHANNEL, message=checkin_message
    )
    assert late
    assert "has closed" in slack_api.wait_for("chat.postEphemeral", 1, timeout=10)[-1].params["text"]

    # /remedy tried lists it, privately, with owner, dates and result.
    slack_api.reset()
    command = slash_command("/remedy", "tried", slack_api.response_url("tried"), channel=CHANNEL)
    assert post_signed_form(web.events_url, command).status == 200
    (listed,) = slack_api.wait_for("response_url", 1, timeout=10)
    assert listed.params["response_type"] == "ephemeral"
    listing = json.dumps(listed.params["blocks"], ensure_ascii=False)
    assert REMEDY in listing and f"owner <@{OWNER}>" in listing and "finished" in listing
    assert "Most say it helped" in listing and "score 2.5 → 3.8" in listing
    assert slack_api.calls_to("chat.postMessage") == []

    # Nothing that identifies a voter in any log either.
    logs = web.logs() + sent.stderr + closed.stderr
    for user in VOTERS:
        assert user not in logs


def test_try_from_a_dm_asks_for_the_channel_and_checks_truce_is_there(web, slack_api):
    # A reply in the Messages tab (a DM) offers Try too.
    dm = {"type": "message", "channel_type": "im", "channel": "D0PAT00001", "user": PICKER}
    event = {
        **dm,
        "text": "the leads marketing sends us are junk, nobody qualified them",
        "ts": "1700000000.000100",
    }
    assert post_signed_json(web.events_url, envelope({**event, "team": TEAM_ID})).status == 200
    (reply,) = slack_api.wait_for("chat.postMessage", 1, timeout=10)
    assert reply.params["channel"] == "D0PAT00001"
    menu, options = try_options(reply.params["blocks"])
    message = {"type": "message", "ts": reply.reply["ts"], "text": "", "blocks": reply.params["blocks"]}
    view = open_modal(
        web, slack_api, chosen(menu, options[0]), user=PICKER, channel="D0PAT00001", message=message
    )
    by_block = {b.get("block_id"): b for b in view["blocks"]}
    picker = by_block[ids.TRY_BLOCK_CHANNEL]["element"]
    assert picker["type"] == "conversations_select"
    assert picker["filter"] == {"include": ["public", "private"], "exclude_bot_users": True}

    # A channel Truce is not in: the modal says so and nothing is kept.
    slack_api.fault = lambda method, params, n: (
        (200, {}, {"ok": False, "error": "not_in_channel"})
        if method == "chat.postMessage" and params.get("channel") == ELSEWHERE
        else None
    )
    checkin_on = datetime.now(UTC).date() + timedelta(days=7)
    refused = post_signed_interaction(
        web.events_url, submission(view, user=PICKER, owner=None, checkin_on=checkin_on, channel=ELSEWHERE)
    )
    assert refused.status == 200
    assert refused.json()["response_action"] == "errors"
    assert "/invite @Truce" in refused.json()["errors"][ids.TRY_BLOCK_CHANNEL]
    db = connect(web.db_url)
    with db() as session:
        assert session.scalars(select(Experiment).where(Experiment.channel_id == ELSEWHERE)).all() == []

    # The right channel: one public line there, at the top (there is no thread to answer in).
    # (On Enterprise Grid the payload names the organisation too; the row keeps it.)
    grid = submission(view, user=PICKER, owner=None, checkin_on=checkin_on, channel=CHANNEL)
    grid["enterprise"] = {"id": "E0GRID0001", "name": "Grid"}
    ok = post_signed_interaction(web.events_url, grid)
    assert ok.status == 200 and "errors" not in ok.body
    (line,) = announcements(slack_api)
    assert line["channel"] == CHANNEL and not line.get("thread_ts")
    assert "owner" not in line["text"]
    with db() as session:
        row = session.scalars(select(Experiment).where(Experiment.checkin_on == checkin_on)).one()
        assert (row.team_id, row.enterprise_id, row.thread_ts) == (TEAM_ID, "E0GRID0001", None)
        assert row.announcement_ts


def test_try_on_a_private_remedy_card_suggests_its_channel(web, slack_api):
    command = slash_command("/remedy", "leads", slack_api.response_url("card"), channel=CHANNEL)
    card = post_signed_form(web.events_url, command).json()
    tries = [b for b in buttons(card["blocks"]) if b["action_id"].startswith(ids.TRY_REMEDY_PREFIX)]
    assert len(tries) == 5 and all(b["text"]["text"].startswith("Try") for b in tries)
    view = open_modal(web, slack_api, tries[1], user=PICKER, channel=CHANNEL, is_ephemeral=True)
    by_block = {b.get("block_id"): b for b in view["blocks"]}
    assert by_block[ids.TRY_BLOCK_CHANNEL]["element"]["initial_conversation"] == CHANNEL
    assert by_block[ids.TRY_BLOCK_REMEDY]["element"]["initial_option"]["text"]["text"] == (
        "Require a reason for every rejected lead"
    )


def test_the_clock_posts_a_due_check_in_in_its_thread_once(slack_api, artifact, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'clock.db'}"
    repo = ExperimentRepository(connect(db_url))
    now = datetime.now(UTC)
    due = repo.add_experiment(
        team_id=TEAM_ID,
        enterprise_id=None,
        channel_id=CHANNEL,
        thread_ts="1700000000.000200",
        cause_id="lead_quality",
        remedy=REMEDY,
        owner_id=None,
        started_on=(now - timedelta(days=14)).date(),
        checkin_on=now.date(),
        checkin_at=now - timedelta(minutes=2),
        now=now - timedelta(days=14),
    )
    repo.set_announced(TEAM_ID, due.id, "1700000000.000300")
    later = repo.add_experiment(
        team_id=TEAM_ID,
        enterprise_id=None,
        channel_id=CHANNEL,
        thread_ts=None,
        cause_id="lead_quality",
        remedy="Hold a monthly lead-quality review",
        owner_id=None,
        started_on=now.date(),
        checkin_on=now.date() + timedelta(days=14),
        checkin_at=now + timedelta(days=14),
        now=now,
    )
    repo.set_announced(TEAM_ID, later.id, "1700000000.000400")
    log = tmp_path / "clock.log"
    with open(log, "w") as out:
        clock = subprocess.Popen(
            [sys.executable, "-m", "bot", "clock"],
            cwd=tmp_path,
            env=server_env(slack_api, db_url, artifact),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not posted_with(slack_api, "help?") and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1)  # anything else it would post in this tick
        finally:
            clock.send_signal(signal.SIGTERM)
            assert clock.wait(15) == 0
    (checkin,) = posted_with(slack_api, "help?")
    assert checkin["channel"] == CHANNEL and checkin["thread_ts"] == "1700000000.000200"
    assert checkin["text"].startswith(f"Did {REMEDY} help?")
    assert "check-ins sent 1" in log.read_text()
