"""The pulse lifecycle against a real database and a loopback Web API: once per period, never lost."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import make_client
from bot.presenters.pulse import PulseService
from bot.scheduler import run_pulse_job
from bot.services.pulse import LEASE
from bot.services.schedule import Schedule
from bot.storage.db import connect
from bot.storage.models import PulseChannel, PulsePoll, PulseResponse
from bot.storage.pulse_repository import PulseRepository
from model.playbook import load_playbook

MONDAY_W14 = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # Monday 30 March 2026, 10:00 CEST


@pytest.fixture(scope="module")
def playbook():
    return load_playbook()


@pytest.fixture
def sessions(settings):
    return connect(settings.database_url)


@pytest.fixture
def repo(sessions):
    return PulseRepository(sessions)


@pytest.fixture
def service(settings, repo, playbook):
    return PulseService(settings, repo, make_client(settings), playbook)


def on_poll(poll) -> dict:
    """Where a click on `poll` comes from: its own message."""
    return {"channel_id": poll.channel_id, "message_ts": poll.message_ts}


def opt_in(repo, channel, since, tz="Europe/Berlin", weekday=0, at="10:00"):
    row, _ = repo.opt_in(channel, "T0TRUCE01", weekday, at, tz, since)
    return row


def posts(fake, channel=None):
    return [c for c in fake.calls_to("chat.postMessage") if channel is None or c.params["channel"] == channel]


def polls_posted(fake, channel=None):
    return [c for c in posts(fake, channel) if "Weekly pulse" in c.params["text"]]


def poll_row(sessions, channel):
    with sessions() as session:
        return session.scalar(select(PulsePoll).where(PulsePoll.channel_id == channel))


# ---- sending -------------------------------------------------------------------------------------
def test_pulse_send_twice_in_one_period_posts_once(settings, repo, fake_slack, capsys):
    for channel in ("C0PULSE001", "C0PULSE002"):
        opt_in(repo, channel, datetime.now(UTC) - timedelta(days=30))
    assert run_pulse_job(settings, "send", None) == 0
    assert run_pulse_job(settings, "send", None) == 0
    assert len(polls_posted(fake_slack, "C0PULSE001")) == 1
    assert len(polls_posted(fake_slack, "C0PULSE002")) == 1
    assert "already 2" in capsys.readouterr().err


def test_two_schedulers_running_by_mistake_still_post_once(settings, repo, playbook, fake_slack):
    opt_in(repo, "C0PULSE001", MONDAY_W14 - timedelta(days=10))
    clocks = [PulseService(settings, repo, make_client(settings), playbook) for _ in range(4)]
    start = threading.Barrier(len(clocks))

    def run(clock):
        start.wait()
        clock.tick(MONDAY_W14 + timedelta(seconds=5))

    threads = [threading.Thread(target=run, args=(c,)) for c in clocks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(polls_posted(fake_slack, "C0PULSE001")) == 1


def test_the_daylight_saving_week_posts_at_ten_local_time(service, repo, fake_slack):
    opt_in(repo, "C0BERLIN01", datetime(2026, 3, 16, tzinfo=UTC))
    # Week 13, still CET (UTC+1): 10:00 local is 09:00 UTC.
    service.tick(datetime(2026, 3, 23, 8, 59, tzinfo=UTC))
    assert polls_posted(fake_slack) == []
    service.tick(datetime(2026, 3, 23, 9, 0, 30, tzinfo=UTC))
    assert len(polls_posted(fake_slack)) == 1
    # Week 14, after the clocks went forward on Sunday: 10:00 CEST is 08:00 UTC, not 09:00.
    service.tick(datetime(2026, 3, 30, 7, 59, tzinfo=UTC))
    assert len(polls_posted(fake_slack)) == 1
    service.tick(datetime(2026, 3, 30, 8, 0, 30, tzinfo=UTC))
    assert len(polls_posted(fake_slack)) == 2
    service.tick(datetime(2026, 3, 30, 9, 0, 30, tzinfo=UTC))  # the old UTC time: nothing more
    assert len(polls_posted(fake_slack)) == 2
    periods = {p.period_key for p in repo.polls(["open", "closed"])}
    assert periods == {"2026-W13", "2026-W14"}


def test_a_run_missed_while_down_is_sent_once_within_the_grace_period(service, repo, fake_slack, settings):
    opt_in(repo, "C0PULSE001", MONDAY_W14 - timedelta(days=10))
    service.tick(MONDAY_W14 + timedelta(hours=5))  # the clock was down at 10:00
    service.tick(MONDAY_W14 + timedelta(hours=5, minutes=1))
    assert len(polls_posted(fake_slack, "C0PULSE001")) == 1


def test_a_run_missed_beyond_the_grace_period_waits_for_next_week(service, repo, fake_slack, settings):
    opt_in(repo, "C0PULSE001", MONDAY_W14 - timedelta(days=10))
    service.tick(MONDAY_W14 + timedelta(hours=settings.pulse_grace_hours + 1))
    assert polls_posted(fake_slack) == []


def test_opting_in_after_this_weeks_run_does_not_fire_at_once(service, repo, fake_slack):
    opt_in(repo, "C0PULSE001", MONDAY_W14 + timedelta(minutes=30))
    service.tick(MONDAY_W14 + timedelta(hours=1))
    assert polls_posted(fake_slack) == []
    service.tick(MONDAY_W14 + timedelta(days=7, seconds=10))
    assert len(polls_posted(fake_slack)) == 1


def test_a_rate_limited_post_waits_and_posts_exactly_once(settings, repo, fake_slack):
    opt_in(repo, "C0PULSE001", datetime.now(UTC) - timedelta(days=30))

    def limit_first(method, params, attempt):
        if method == "chat.postMessage" and attempt == 1:
            return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
        return None

    fake_slack.fault = limit_first
    assert run_pulse_job(settings, "send", ["C0PULSE001"]) == 0
    assert len(polls_posted(fake_slack, "C0PULSE001")) == 1
    assert fake_slack._attempts["chat.postMessage"] == 2
    assert repo.polls(["open"])[0].channel_id == "C0PULSE001"


def test_a_post_that_fails_is_retried_later_and_never_lost(service, repo, fake_slack, sessions):
    opt_in(repo, "C0PULSE001", MONDAY_W14 - timedelta(days=10))
    failing = {"on": True}

    def outage(method, params, attempt):
        if method == "chat.postMessage" and failing["on"]:
            return 503, {}, {"ok": False, "error": "service_unavailable"}
        return None

    fake_slack.fault = outage
    report = service.tick(MONDAY_W14 + timedelta(seconds=5))
    assert report.counts["failed"] == 1 and polls_posted(fake_slack) == []
    assert poll_row(sessions, "C0PULSE001").status == "pending"
    failing["on"] = False
    service.tick(MONDAY_W14 + timedelta(seconds=30))  # still waiting for the retry time
    assert polls_posted(fake_slack) == []
    service.tick(MONDAY_W14 + timedelta(minutes=2))
    service.tick(MONDAY_W14 + timedelta(minutes=3))
    assert len(polls_posted(fake_slack, "C0PULSE001")) == 1
    assert poll_row(sessions, "C0PULSE001").status == "open"


def test_a_crashed_post_is_taken_over_only_after_its_lease(service, repo, fake_slack):
    channel = opt_in(repo, "C0PULSE001", MONDAY_W14 - timedelta(days=10))
    period = Schedule.of(channel).period_of(MONDAY_W14)
    # Another process claimed the poll and died before posting.
    assert repo.claim_poll(
        "C0PULSE001", period, MONDAY_W14, MONDAY_W14 + timedelta(days=3), MONDAY_W14 + LEASE
    )
    service.tick(MONDAY_W14 + timedelta(minutes=1))
    assert polls_posted(fake_slack) == []
    service.tick(MONDAY_W14 + LEASE + timedelta(minutes=1))
    assert len(polls_posted(fake_slack)) == 1


def test_a_channel_truce_was_removed_from_is_skipped_with_a_log_line(settings, repo, fake_slack, caplog):
    since = datetime.now(UTC) - timedelta(days=30)
    opt_in(repo, "C0GONE0001", since)
    opt_in(repo, "C0PULSE001", since)

    def gone(method, params, attempt):
        if method == "chat.postMessage" and params.get("channel") == "C0GONE0001":
            return 200, {}, {"ok": False, "error": "not_in_channel"}
        return None

    fake_slack.fault = gone
    with caplog.at_level(logging.INFO):
        assert run_pulse_job(settings, "send", None) == 0
    assert len(polls_posted(fake_slack, "C0PULSE001")) == 1
    assert "no longer in channel C0GONE0001" in caplog.text
    assert repo.channel("C0GONE0001").member is False
    fake_slack.reset()
    run_pulse_job(settings, "send", None)
    assert [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0GONE0001"] == []


def test_channels_joined_while_truce_was_down_are_found(settings, repo, fake_slack):
    fake_slack.channels = [{"id": "C0MISSED01", "name": "sales-mkt", "is_member": True}]
    assert run_pulse_job(settings, "send", None) == 0
    assert len(polls_posted(fake_slack, "C0MISSED01")) == 1
    assert repo.channel("C0MISSED01").enabled


# ---- answering, reminding, closing ----------------------------------------------------------------
def open_poll(service, repo, fake_slack, channel="C0PULSE001"):
    opt_in(repo, channel, MONDAY_W14 - timedelta(days=10))
    service.tick(MONDAY_W14 + timedelta(seconds=5))
    poll = repo.polls(["open"], [channel])[0]
    fake_slack.reset()
    return poll


def test_one_answer_per_person_which_they_can_change(service, repo, fake_slack, sessions):
    poll = open_poll(service, repo, fake_slack)
    at = MONDAY_W14 + timedelta(hours=1)
    service.vote(poll.id, "U0AE00001", "score", 2, at, **on_poll(poll))
    service.vote(poll.id, "U0AE00001", "score", 5, at, **on_poll(poll))
    service.vote(poll.id, "U0AE00001", "side", "sales", at, **on_poll(poll))
    vote = service.vote(poll.id, "U0AE00002", "score", 3, at, **on_poll(poll))
    assert vote.status == "ok" and vote.responses == 2 and vote.first
    with sessions() as session:
        rows = session.execute(select(PulseResponse.side, PulseResponse.score)).all()
    assert sorted(rows, key=str) == sorted([("sales", 5), (None, 3)], key=str)


def test_the_reminder_comes_once_mid_way_and_names_nobody(service, repo, fake_slack):
    poll = open_poll(service, repo, fake_slack)
    for user in ("U0AE00001", "U0AE00002"):
        service.vote(poll.id, user, "score", 4, MONDAY_W14 + timedelta(hours=2), **on_poll(poll))
    service.tick(MONDAY_W14 + timedelta(days=1))
    assert posts(fake_slack) == []
    service.tick(MONDAY_W14 + timedelta(days=1, hours=12, minutes=1))
    service.tick(MONDAY_W14 + timedelta(days=1, hours=12, minutes=2))
    (reminder,) = posts(fake_slack)
    assert reminder.params["thread_ts"] == poll.message_ts
    assert "2 people have answered" in reminder.params["text"]
    assert "U0AE0000" not in str(reminder.params)


def test_with_two_answers_the_summary_says_too_few(service, repo, fake_slack, sessions):
    poll = open_poll(service, repo, fake_slack)
    service.vote(poll.id, "U0AE00001", "score", 1, MONDAY_W14 + timedelta(hours=1), **on_poll(poll))
    service.vote(poll.id, "U0AE00002", "score", 5, MONDAY_W14 + timedelta(hours=1), **on_poll(poll))
    service.tick(MONDAY_W14 + timedelta(days=3, minutes=1))
    (summary,) = posts(fake_slack)
    assert "too few to show" in summary.params["text"]
    assert "/5" not in summary.params["text"]
    assert fake_slack.calls_to("files.completeUploadExternal") == []  # no chart of nothing
    closed = poll_row(sessions, "C0PULSE001")
    assert (closed.status, closed.responses, closed.avg_score) == ("closed", 2, None)
    with sessions() as session:
        assert session.scalars(select(PulseResponse.voter_hash)).all() == [None, None]


def test_a_closed_poll_takes_no_more_answers(service, repo, fake_slack):
    poll = open_poll(service, repo, fake_slack)
    service.tick(MONDAY_W14 + timedelta(days=3, minutes=1))
    vote = service.vote(
        poll.id, "U0AE00001", "score", 3, MONDAY_W14 + timedelta(days=3, minutes=2), **on_poll(poll)
    )
    assert vote.status == "closed"
    assert repo.response_count(poll.id) == 0


def test_the_summary_comes_with_a_chart_in_its_thread(service, repo, fake_slack):
    poll = open_poll(service, repo, fake_slack)
    for n, (side, score) in enumerate([("sales", 2), ("sales", 3), ("sales", 4), ("marketing", 5)]):
        service.vote(poll.id, f"U0AE0000{n}", "side", side, MONDAY_W14 + timedelta(hours=1), **on_poll(poll))
        service.vote(
            poll.id, f"U0AE0000{n}", "score", score, MONDAY_W14 + timedelta(hours=1), **on_poll(poll)
        )
    service.tick(MONDAY_W14 + timedelta(days=3, minutes=1))
    (summary,) = posts(fake_slack)
    assert "4 people answered" in summary.params["text"] and "3.5/5" in summary.params["text"]
    (complete,) = fake_slack.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C0PULSE001"
    assert complete.params["thread_ts"] == repo.poll(poll.id).summary_ts
    (upload_url,) = fake_slack.calls_to("files.getUploadURLExternal")
    assert "W14 3.5" in upload_url.params["alt_txt"]
    assert int(upload_url.params["length"]) > 1000 and len(fake_slack.calls_to("upload")) == 1
    updated = [c for c in fake_slack.calls_to("chat.update") if c.params["ts"] == poll.message_ts]
    assert "closed" in updated[-1].params["text"]


def test_a_refused_chart_upload_leaves_the_text_summary(service, repo, fake_slack, caplog):
    poll = open_poll(service, repo, fake_slack)
    for n in range(3):
        service.vote(poll.id, f"U0AE0000{n}", "score", 4, MONDAY_W14 + timedelta(hours=1), **on_poll(poll))
    fake_slack.fault = lambda method, params, attempt: (
        (200, {}, {"ok": False, "error": "missing_scope"}) if method == "files.getUploadURLExternal" else None
    )
    with caplog.at_level(logging.WARNING):
        service.tick(MONDAY_W14 + timedelta(days=3, minutes=1))
    (summary,) = posts(fake_slack)
    assert "4.0/5" in summary.params["text"] and "W14 4.0" in summary.params["text"]
    assert "chart for poll" in caplog.text and "missing_scope" in caplog.text
    assert repo.poll(poll.id).status == "closed"


def test_a_summary_that_cannot_be_posted_is_retried_not_lost(service, repo, fake_slack, sessions):
    poll = open_poll(service, repo, fake_slack)
    for n in range(3):
        service.vote(poll.id, f"U0AE0000{n}", "score", 3, MONDAY_W14 + timedelta(hours=1), **on_poll(poll))
    down = {"on": True}
    fake_slack.fault = lambda method, params, attempt: (
        (500, {}, {"ok": False, "error": "internal_error"})
        if method == "chat.postMessage" and down["on"]
        else None
    )
    close_at = MONDAY_W14 + timedelta(days=3, minutes=1)
    service.tick(close_at)
    assert repo.poll(poll.id).status == "open"
    with sessions() as session:  # still able to tell answers apart until it really closes
        assert None not in session.scalars(select(PulseResponse.voter_hash)).all()
    down["on"] = False
    service.tick(close_at + timedelta(minutes=3))
    service.tick(close_at + timedelta(minutes=4))
    summaries = [c for c in posts(fake_slack) if "Pulse results" in c.params["text"]]
    assert len(summaries) == 1 and "3 people answered" in summaries[0].params["text"]
    assert repo.poll(poll.id).status == "closed"


def test_a_rate_limited_summary_is_posted_once(service, repo, fake_slack):
    poll = open_poll(service, repo, fake_slack)
    for n in range(3):
        service.vote(poll.id, f"U0AE0000{n}", "score", 3, MONDAY_W14 + timedelta(hours=1), **on_poll(poll))
    fake_slack.fault = lambda method, params, attempt: (
        (429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"})
        if method == "chat.postMessage" and attempt == 1
        else None
    )
    service.tick(MONDAY_W14 + timedelta(days=3, minutes=1))
    summaries = [c for c in posts(fake_slack) if "Pulse results" in c.params["text"]]
    assert len(summaries) == 1


def test_the_trend_reads_earlier_weeks(service, repo, fake_slack, sessions):
    opt_in(repo, "C0PULSE001", MONDAY_W14 - timedelta(days=30))
    for week, score in ((0, 2), (1, 3), (2, 5)):  # all three after the switch to summer time
        monday = MONDAY_W14 + timedelta(weeks=week)
        service.tick(monday + timedelta(seconds=5))
        poll = repo.polls(["open"])[0]
        for n in range(3):
            service.vote(
                poll.id, f"U0AE0000{n}", "score", score, monday + timedelta(hours=1), **on_poll(poll)
            )
        service.tick(monday + timedelta(days=3, minutes=1))
    last = [c for c in posts(fake_slack) if "Pulse results" in c.params["text"]][-1]
    assert "W13 no poll · W14 2.0 · W15 3.0 · W16 5.0" in last.params["text"]
    assert "+2.0" in last.params["text"]
    with sessions() as session:
        channel = session.get(PulseChannel, "C0PULSE001")
        assert channel.member and channel.enabled


def test_a_post_slack_took_too_long_to_confirm_is_not_posted_twice(
    settings, repo, playbook, fake_slack, caplog
):
    # Slack got the poll but answered after the client gave up: retrying would post it twice.
    opt_in(repo, "C0PULSE001", MONDAY_W14 - timedelta(days=10))
    impatient = PulseService(
        replace(settings, api_timeout=0.5), repo, make_client(replace(settings, api_timeout=0.5)), playbook
    )
    slow = {"on": True}

    def late_answer(method, params, attempt):
        if method == "chat.postMessage" and slow["on"]:
            time.sleep(1.2)
        return None

    fake_slack.fault = late_answer
    with caplog.at_level(logging.WARNING):
        impatient.tick(MONDAY_W14 + timedelta(seconds=5))
    slow["on"] = False
    for minutes in (2, 5, 30, 120):
        impatient.tick(MONDAY_W14 + timedelta(minutes=minutes))
    time.sleep(1.5)
    assert len(polls_posted(fake_slack, "C0PULSE001")) == 1
    assert "may be missing" in caplog.text and "pulse send --channel C0PULSE001" in caplog.text


def test_pulse_remind_by_hand_reminds_each_open_poll_once(settings, repo, fake_slack):
    opt_in(repo, "C0PULSE001", datetime.now(UTC) - timedelta(days=30))
    run_pulse_job(settings, "send", None)
    fake_slack.reset()
    assert run_pulse_job(settings, "remind", None) == 0
    assert run_pulse_job(settings, "remind", None) == 0
    (reminder,) = posts(fake_slack)
    assert "Nobody has answered" in reminder.params["text"] and reminder.params["reply_broadcast"] in (
        True,
        "1",
        "true",
    )
