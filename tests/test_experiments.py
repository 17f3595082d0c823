"""Experiments against a real database and the loopback Web API, on a controlled clock: when the
check-in goes out (channel timezone), when it closes, the anonymity threshold, "what works here",
workspace scoping, and the effect lines in the next pulse summary."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import make_client
from bot.presenters.experiments import ExperimentService
from bot.presenters.pulse import PulseService
from bot.services.aggregation import TrendPoint
from bot.services.chart import trend_chart
from bot.services.experiments import CheckinResult, Workspace, checkin_instant
from bot.storage.db import connect
from bot.storage.experiment_repository import ExperimentRepository
from bot.storage.models import Checkin, PulsePoll
from bot.storage.pulse_repository import PulseRepository
from bot.views.remedy import cause_message
from bot.views.validate import view_problems
from model.playbook import load_playbook
from tests.conftest import make_settings
from tests.pg import BACKENDS, database_url
from tests.remedy_payloads import app_home_opened, dispatch_event

TEAM = Workspace("T0TRUCE01")
OTHER_TEAM = Workspace("T0OTHER001")
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 30 November 2026, 10:00 in Berlin
REMEDY = "Write a lead SLA this week"


@pytest.fixture(scope="module")
def playbook():
    return load_playbook()


@pytest.fixture(params=BACKENDS)
def settings(request, fake_slack, tmp_path, artifact):
    """Every test here runs on SQLite and on PostgreSQL (when TRUCE_TEST_POSTGRES_URL is set)."""
    return make_settings(fake_slack, database_url(request.param, tmp_path), artifact)


@pytest.fixture
def sessions(settings):
    return connect(settings.database_url)


@pytest.fixture
def service(settings, sessions, playbook):
    return ExperimentService(settings, ExperimentRepository(sessions), make_client(settings), playbook)


def start(service, channel, at, checkin_on, team=TEAM, remedy=REMEDY, thread="1700000000.000100"):
    started = service.start(team, channel, thread, "lead_quality", remedy, None, checkin_on, at)
    assert started.status == "ok"
    return started.card


def checkins_posted(fake, channel=None):
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if "help?" in c.params["text"] and (channel is None or c.params["channel"] == channel)
    ]


def test_the_check_in_goes_out_on_its_morning_in_the_channel_timezone_and_closes_three_days_later(
    service, sessions, fake_slack
):
    PulseRepository(sessions).opt_in("C0BERLIN01", TEAM.team_id, 0, "10:00", "Europe/Berlin", MONDAY)
    card = start(service, "C0BERLIN01", MONDAY, date(2026, 12, 14))
    assert card.timezone == "Europe/Berlin"
    due = checkin_instant(date(2026, 12, 14), "Europe/Berlin")
    assert due == datetime(2026, 12, 14, 9, 0, tzinfo=UTC)  # 10:00 CET

    service.tick(due - timedelta(minutes=1))
    assert checkins_posted(fake_slack) == []
    service.tick(due)
    service.tick(due + timedelta(minutes=1))  # a second tick, or a second clock: still one
    ExperimentService(service.settings, service.repo, service.client, service.playbook).tick(due)
    (posted,) = checkins_posted(fake_slack)
    assert posted.params["thread_ts"] == "1700000000.000100"

    with sessions() as session:
        checkin = session.scalars(select(Checkin)).one()
    for n, choice in enumerate(("helped", "partly", "stopped")):
        vote = service.vote(
            TEAM, checkin.id, f"U0VOTE000{n}", choice, channel_id="C0BERLIN01", message_ts=checkin.message_ts
        )
        assert vote.status == "ok"
    # A click copied into another message does not count.
    assert (
        service.vote(
            TEAM, checkin.id, "U0VOTE0009", "helped", channel_id="C0BERLIN01", message_ts="1.2"
        ).status
        == "elsewhere"
    )
    # Nor does one from another workspace that guessed the id.
    assert (
        service.vote(
            OTHER_TEAM,
            checkin.id,
            "U0VOTE0009",
            "helped",
            channel_id="C0BERLIN01",
            message_ts=checkin.message_ts,
        ).status
        == "missing"
    )

    service.tick(due + timedelta(days=3) - timedelta(minutes=1))
    assert not [c for c in fake_slack.calls_to("chat.postMessage") if "Check-in: did" in c.params["text"]]
    service.tick(due + timedelta(days=3))
    (result,) = [c for c in fake_slack.calls_to("chat.postMessage") if "Check-in: did" in c.params["text"]]
    assert result.params["thread_ts"] == "1700000000.000100"
    assert "Helped 1 · Partly 1 · Not yet 0 · We stopped 1. Most say it helped." in result.params["text"]
    # No pulse polls around it: said so, instead of a number.
    assert "too few pulse polls to compare yet (0 before, 0 since" in result.params["text"]


def test_below_the_threshold_a_check_in_shows_only_how_many_answered(service, sessions, fake_slack):
    start(service, "C0QUIET001", MONDAY, date(2026, 12, 14))
    service.send_due(MONDAY, force=True)
    with sessions() as session:
        checkin = session.scalars(select(Checkin)).one()
    for n in range(2):
        service.vote(
            TEAM,
            checkin.id,
            f"U0VOTE000{n}",
            "helped",
            channel_id="C0QUIET001",
            message_ts=checkin.message_ts,
        )
    service.close_due(MONDAY + timedelta(hours=1), force=True)
    (result,) = [c for c in fake_slack.calls_to("chat.postMessage") if "Check-in: did" in c.params["text"]]
    assert "Only 2 answered — too few to show a result" in result.params["text"]
    assert "Helped" not in result.params["text"].split("too few")[0]
    with sessions() as session:
        row = session.scalars(select(Checkin)).one()
    assert (row.responses, row.helped, row.partly, row.not_yet, row.stopped) == (2, None, None, None, None)
    assert CheckinResult.stored(row, 3).helped is None


def test_helped_means_more_helped_or_partly_than_not():
    assert CheckinResult.of({"helped": 1, "partly": 1, "not_yet": 1}, 3).helped is True
    assert CheckinResult.of({"helped": 1, "partly": 1, "not_yet": 1, "stopped": 1}, 3).helped is False
    assert CheckinResult.of({"not_yet": 2, "partly": 1}, 3).helped is False
    assert CheckinResult.of({"helped": 2}, 3).shown is False


def test_what_works_here_counts_channels_of_this_workspace_only(service, sessions, playbook, fake_slack):
    def tried(channel, team, answers):
        start(service, channel, MONDAY, date(2026, 12, 14), team=team)
        experiment = [e for e in service.repo.experiments(team.team_id, [channel])][0]
        assert service.send(experiment, MONDAY) == "sent"
        checkin = service.repo.checkins_of(team.team_id, [experiment.id])[experiment.id]
        for n, choice in enumerate(answers):
            service.vote(
                team, checkin.id, f"U0V{n:07d}", choice, channel_id=channel, message_ts=checkin.message_ts
            )
        assert service.close(checkin, MONDAY + timedelta(days=3)) == "closed"

    tried("C0WORKS001", TEAM, ["helped", "helped", "not_yet"])
    tried("C0WORKS002", TEAM, ["partly", "helped", "partly"])
    assert service.works(TEAM.team_id, "lead_quality") == {}  # two channels: not enough to say
    tried("C0WORKS003", TEAM, ["not_yet", "stopped", "helped"])
    tried("C0WORKS004", OTHER_TEAM, ["helped", "helped", "helped"])
    works = service.works(TEAM.team_id, "lead_quality")
    assert {k: (v.tried, v.helped) for k, v in works.items()} == {REMEDY: (3, 2)}
    assert service.works(OTHER_TEAM.team_id, "lead_quality") == {}
    card = cause_message(playbook.get("lead_quality"), works)
    text = "\n".join(e["text"] for b in card["blocks"] if b["type"] == "context" for e in b["elements"])
    assert f"What works here:* {REMEDY} — tried in 3 channels here, helped in 2." in text
    assert service.tried(OTHER_TEAM.team_id, ["C0WORKS001"]) == []


def test_the_next_pulse_summary_shows_the_effect_and_marks_the_chart(
    settings, sessions, playbook, fake_slack
):
    pulse_repo = PulseRepository(sessions, TEAM)  # the pulse of one workspace, as the clock runs it
    channel = "C0EFFECT01"
    monday = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin, ISO week 45
    pulse_repo.opt_in(channel, TEAM.team_id, 0, "10:00", "Europe/Berlin", monday - timedelta(weeks=5))
    pulse = PulseService(settings, pulse_repo, make_client(settings), playbook)

    def week(at, scores):
        pulse.tick(at)
        poll = pulse_repo.latest_poll(channel)
        for n, score in enumerate(scores):
            for field, value in (("score", score), ("cause", "lead_quality" if score < 3 else "nothing")):
                pulse.vote(
                    poll.id, f"U0P{n:07d}", field, value, at, channel_id=channel, message_ts=poll.message_ts
                )
        pulse.close_due(at + timedelta(days=3, minutes=1))

    week(monday, [2, 2, 3])  # before: 2.3, lead quality named by 2 of 3
    experiments = ExperimentService(settings, ExperimentRepository(sessions), make_client(settings), playbook)
    start(experiments, channel, monday + timedelta(days=4), date(2026, 11, 20))
    fake_slack.reset()
    week(monday + timedelta(weeks=1), [4, 4, 2, 5])  # since: 3.8, named by 1 of 4
    (summary,) = [
        c for c in fake_slack.calls_to("chat.postMessage") if c.params["text"].startswith("Pulse results")
    ]
    text = summary.params["text"]
    assert f"Since you started {REMEDY} on 6 Nov: score 2.3 → 3.8" in text
    assert "named by 2 of 3 → 1 of 4" in text
    try_it = [
        b["accessory"] for b in summary.params["blocks"] if b.get("accessory", {}).get("type") == "button"
    ]
    assert [b["text"]["text"] for b in try_it] == ["Try it"] and try_it[0]["value"] == "lead_quality:0"
    with sessions() as session:
        assert [p.status for p in session.scalars(select(PulsePoll))] == ["closed", "closed"]
    assert fake_slack.calls_to(
        "files.completeUploadExternal"
    )  # the chart went out (its marker: see the next test)


def test_the_chart_marks_the_week_an_experiment_started():
    scores = [2.0, 2.5, None, 3.0, 3.5, 3.6, 3.8, 4.0]
    trend = [TrendPoint(f"2026-W{40 + n}", s, None if s is None else 5) for n, s in enumerate(scores)]
    plain = trend_chart(trend)
    marked = trend_chart(trend, [(trend[3].period_key, "Lead SLA (3 Nov)")])
    assert marked[:8] == b"\x89PNG\r\n\x1a\n" and marked != plain
    assert trend_chart(trend, [("1999-W01", "not on this chart")]) == plain


def test_start_refuses_a_channel_truce_is_not_in_and_keeps_nothing(service, fake_slack):
    fake_slack.fault = lambda method, params, n: (
        (200, {}, {"ok": False, "error": "not_in_channel"}) if method == "chat.postMessage" else None
    )
    started = service.start(
        TEAM, "C0NOTIN001", None, "lead_quality", REMEDY, None, date(2026, 12, 14), MONDAY
    )
    assert started.status == "not_in_channel"
    assert service.repo.experiments(TEAM.team_id) == []


def test_a_check_in_given_up_on_is_posted_again_only_by_the_operator(service, fake_slack):
    start(service, "C0RETRY001", MONDAY, date(2026, 12, 14))
    (experiment,) = service.repo.experiments(TEAM.team_id)
    claimed = service.repo.claim_checkin(experiment, MONDAY, MONDAY + timedelta(days=3), MONDAY)
    service.repo.give_up_checkin(TEAM.team_id, claimed.id)  # e.g. Slack answered too late
    later = datetime(2026, 12, 14, 12, 0, tzinfo=UTC)
    service.tick(later)
    assert checkins_posted(fake_slack) == []  # the clock does not risk a duplicate
    assert service.send_due(later, force=True).line() == "sent 1"
    assert service.send_due(later, force=True).line() == "nothing to do"
    assert len(checkins_posted(fake_slack, "C0RETRY001")) == 1


def test_app_home_lists_the_experiments_of_the_viewers_channels_in_this_workspace(app, fake_slack, service):
    start(service, "C0MINE0001", MONDAY, date(2026, 12, 14))
    start(service, "C0SECRET01", MONDAY, date(2026, 12, 14), remedy="Hold a monthly lead-quality review")
    start(
        service,
        "C0MINE0002",
        MONDAY,
        date(2026, 12, 14),
        team=OTHER_TEAM,
        remedy="Track follow-up within the SLA",
    )
    fake_slack.channels = [{"id": "C0MINE0001"}, {"id": "C0MINE0002"}]
    dispatch_event(app, app_home_opened())
    (published,) = fake_slack.calls_to("views.publish")
    view = published.params["view"]
    assert view_problems(view) == []
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Remedies your channels are trying" in text
    assert f"*{REMEDY}* (lead quality and hand-off) in <#C0MINE0001>" in text
    assert "started 30 Nov · check-in 14 Dec · running" in text
    assert "Hold a monthly lead-quality review" not in text  # a channel the viewer is not in
    assert "Track follow-up within the SLA" not in text  # another workspace
