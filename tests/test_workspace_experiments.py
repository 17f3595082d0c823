"""Experiments across workspaces: two workspaces install through "Add to Slack", each check-in is
posted and closed with its own workspace's token (the Authorization header the loopback Web API
recorded), an effect reads only its own workspace's pulse, and one workspace leaving takes its
experiments, check-ins and answers with it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.fakeslack import FakeSlack
from bot.storage.db import connect
from bot.storage.experiment_repository import ExperimentRepository
from bot.storage.models import Checkin, CheckinAnswer, Experiment, PulseChannel, PulsePoll, PulseResponse
from tests.conftest import start_web_server
from tests.pg import BACKENDS, database_url
from tests.slack import post_signed_json
from tests.test_workspaces import install, oauth_env, run_bot, team_event, wait_until

ACME, GLOBEX = "T0ACME0001", "T0GLOBEX01"
CHANNELS = {ACME: "C0ACMEEXP1", GLOBEX: "C0GLOBEXP1"}
REMEDIES = {ACME: "Write a lead SLA this week", GLOBEX: "Hold a monthly lead-quality review"}


@pytest.fixture
def fake():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(params=BACKENDS)
def oauth_web(request, fake, tmp_path, artifact):
    server = start_web_server(
        fake, tmp_path, artifact, database_url(request.param, tmp_path), **oauth_env(fake)
    )
    yield server
    server.stop()


def start_experiment(repo: ExperimentRepository, team: str, now: datetime) -> Experiment:
    experiment = repo.add_experiment(
        team_id=team,
        enterprise_id=None,
        channel_id=CHANNELS[team],
        thread_ts=None,
        cause_id="lead_quality",
        remedy=REMEDIES[team],
        owner_id=None,
        started_on=(now - timedelta(days=14)).date(),
        checkin_on=now.date(),
        checkin_at=now + timedelta(days=1),  # not due yet: `checkins send` posts it anyway
        now=now - timedelta(days=14),
    )
    repo.set_announced(team, experiment.id, f"1700000000.{len(team):03d}{team[-1]}00")
    return experiment


def checkin_posts(fake: FakeSlack) -> list:
    return [c for c in fake.calls_to("chat.postMessage") if "help?" in (c.params.get("text") or "")]


def rows_of(sessions, team: str) -> dict[str, int]:
    with sessions() as session:
        return {
            model.__tablename__: session.scalar(
                select(func.count()).select_from(model).where(model.team_id == team)
            )
            for model in (Experiment, Checkin, CheckinAnswer)
        }


def test_check_ins_go_out_with_each_workspaces_token_and_leave_with_it(fake, oauth_web, tmp_path, artifact):
    acme = fake.add_workspace(ACME, "Acme")
    globex = fake.add_workspace(GLOBEX, "Globex")
    for workspace in (acme, globex):
        assert install(oauth_web, workspace).status == 200
    tokens = {ACME: acme.token, GLOBEX: globex.token}  # issued by oauth.v2.access at install
    assert all(tokens.values()) and tokens[ACME] != tokens[GLOBEX]
    sessions = connect(oauth_web.db_url)
    repo = ExperimentRepository(sessions)
    now = datetime.now(UTC)
    for team in (ACME, GLOBEX):
        start_experiment(repo, team, now)

    def bot(*args: str):
        done = run_bot(fake, oauth_web.db_url, artifact, tmp_path, *args)
        assert "Traceback" not in done.stderr
        return done

    # --team: only Acme's check-in, with Acme's token.
    only = bot("checkins", "send", "--team", ACME)
    assert only.returncode == 0, only.stderr
    assert "checkins send: sent 1" in only.stderr
    (first,) = checkin_posts(fake)
    assert first.params["channel"] == CHANNELS[ACME]
    assert first.params["_token"] == tokens[ACME]
    assert first.params["text"].startswith(f"Did {REMEDIES[ACME]} help?")

    # Every workspace: Globex's goes out with Globex's token; Acme's is not posted twice.
    every = bot("checkins", "send")
    assert every.returncode == 0, every.stderr
    posted = checkin_posts(fake)
    assert len(posted) == 2
    assert {(c.params["channel"], c.params["_token"]) for c in posted} == {
        (CHANNELS[team], tokens[team]) for team in (ACME, GLOBEX)
    }
    for call in posted:
        assert call.params["thread_ts"].startswith("1700000000.")  # in the announcement's thread

    # Three people answer in each workspace; then both close, each result with its own token.
    for team in (ACME, GLOBEX):
        (checkin,) = repo.checkins(["open"], team_id=team)
        for n in range(3):
            vote = repo.record_answer(
                team,
                checkin.id,
                f"{team}-hash-{n}",
                "helped",
                now,
                channel_id=checkin.channel_id,
                message_ts=checkin.message_ts,
            )
            assert vote.status == "ok"
    fake.reset()
    closed = bot("checkins", "close")
    assert closed.returncode == 0, closed.stderr
    results = fake.calls_to("chat.postMessage")
    assert {(c.params["channel"], c.params["_token"]) for c in results} == {
        (CHANNELS[team], tokens[team]) for team in (ACME, GLOBEX)
    }
    assert len(results) == 2
    assert {(c.params["channel"], c.params["_token"]) for c in fake.calls_to("chat.update")} == {
        (CHANNELS[team], tokens[team]) for team in (ACME, GLOBEX)
    }
    assert rows_of(sessions, GLOBEX) == {"experiments": 1, "checkins": 1, "checkin_answers": 3}

    # Globex uninstalls: its experiments, check-ins and answers go; Acme's stay.
    fake.uninstall(GLOBEX)
    gone = team_event(GLOBEX, {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"})
    assert post_signed_json(oauth_web.events_url, gone).status == 200
    assert wait_until(
        lambda: rows_of(sessions, GLOBEX) == {"experiments": 0, "checkins": 0, "checkin_answers": 0}
    )
    assert rows_of(sessions, ACME) == {"experiments": 1, "checkins": 1, "checkin_answers": 3}
    assert "Traceback" not in oauth_web.logs()

    # Nothing is posted for the workspace that left.
    fake.reset()
    left = bot("checkins", "send", "--team", GLOBEX)
    assert left.returncode == 0 and "checkins send: nothing to do" in left.stderr
    assert fake.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_effect_reads_only_its_own_workspaces_pulse(backend, tmp_path):
    """A Slack Connect channel id seen by two workspaces: each one's effect and timezone are its own."""
    sessions = connect(database_url(backend, tmp_path))
    shared = "C0SHARED01"
    opened = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with sessions.begin() as session:
        session.add(PulseChannel(team_id=GLOBEX, channel_id=shared, timezone="Asia/Tokyo"))
        for team, score, week in ((ACME, 2, 45), (GLOBEX, 5, 44)):
            at = opened - timedelta(weeks=45 - week)
            poll = PulsePoll(
                team_id=team,
                channel_id=shared,
                period_key=f"2026-W{week}",
                status="closed",
                opened_at=at,
                closes_at=at + timedelta(days=3),
                closed_at=at + timedelta(days=3),
                responses=3,
                avg_score=float(score),
            )
            session.add(poll)
            session.flush()
            for _ in range(3):
                session.add(PulseResponse(team_id=team, poll_id=poll.id, score=score, cause="lead_quality"))
    repo = ExperimentRepository(sessions)
    since, until = opened - timedelta(weeks=2), opened + timedelta(days=1)
    (acme,) = repo.published_polls(ACME, shared, since, until, 3)
    (globex,) = repo.published_polls(GLOBEX, shared, since, until, 3)
    assert acme.scores == (2, 2, 2) and globex.scores == (5, 5, 5)
    assert repo.published_polls("T0NOBODY01", shared, since, until, 3) == []
    assert repo.channel_timezone(GLOBEX, shared) == "Asia/Tokyo"
    assert repo.channel_timezone(ACME, shared) is None  # Acme's experiments use the default timezone


def test_the_clock_posts_each_workspaces_due_check_in_with_its_own_token(fake, tmp_path, artifact):
    from dataclasses import replace

    from bot.scheduler import Clock
    from tests.conftest import make_settings

    server = start_web_server(fake, tmp_path, artifact, **oauth_env(fake))
    try:
        workspaces = [fake.add_workspace(team, team) for team in (ACME, GLOBEX)]
        for workspace in workspaces:
            assert install(server, workspace).status == 200
    finally:
        server.stop()
    sessions = connect(server.db_url)
    repo = ExperimentRepository(sessions)
    now = datetime.now(UTC).replace(microsecond=0)
    for team in (ACME, GLOBEX):
        start_experiment(repo, team, now - timedelta(days=1, minutes=1))  # its check-in time has come
    settings = replace(
        make_settings(fake, server.db_url, artifact),
        bot_token=None,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
    )
    clock = Clock(settings, sessions)
    assert [w.team_id for w in clock.checkins_index.workspaces_due(now)] == [ACME, GLOBEX]
    report = clock.tick(now)
    assert report.counts["check-ins sent"] == 2, report.line()
    assert {(c.params["channel"], c.params["_token"]) for c in checkin_posts(fake)} == {
        (CHANNELS[w.team_id], w.token) for w in workspaces
    }
    # Posted once: nothing is due any more, and the next tick posts nothing.
    assert clock.checkins_index.workspaces_due(now + timedelta(minutes=1)) == []
    clock.tick(now + timedelta(minutes=1))
    assert len(checkin_posts(fake)) == 2
    # Three days later both close, each result posted with its own workspace's token.
    fake.reset()
    later = now + timedelta(days=3, minutes=1)
    assert [w.team_id for w in clock.checkins_index.workspaces_due(later)] == [ACME, GLOBEX]
    assert clock.tick(later).counts["check-ins closed"] == 2
    assert {(c.params["channel"], c.params["_token"]) for c in fake.calls_to("chat.postMessage")} == {
        (CHANNELS[w.team_id], w.token) for w in workspaces
    }
