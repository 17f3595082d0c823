"""Many workspaces through one deployment: "Add to Slack" installs through the real server and Bolt's
OAuth flow (the loopback Web API answers oauth.v2.access), each workspace answered with its own token,
seeing only its own data, leaving with its data, and rotating tokens."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from sqlalchemy import func, select

from bot.fakeslack import BOT_USER_ID, FakeSlack, FakeWorkspace
from bot.settings import DEFAULT_BOT_SCOPES, load_settings
from bot.storage.db import connect
from bot.storage.models import (
    BOTS,
    INSTALLATIONS,
    Checkin,
    CheckinAnswer,
    DiagnosisEvent,
    Experiment,
    PulseChannel,
    PulsePoll,
)
from bot.storage.repository import Repository
from tests.conftest import ROOT, server_env, start_web_server, wait_until
from tests.slack import envelope, post_signed_json

LEADS = "the leads from last week's webinar are junk again, half of them are students"


@dataclass
class Page:
    status: int
    body: str
    headers: dict[str, str]


def get(url: str, cookie: str | None = None) -> Page:
    request = urllib.request.Request(url)
    if cookie:
        request.add_header("Cookie", cookie)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return Page(response.status, response.read().decode(), dict(response.headers.items()))
    except urllib.error.HTTPError as exc:
        return Page(exc.code, exc.read().decode(), dict(exc.headers.items()))


def oauth_env(fake: FakeSlack) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "",
        "SLACK_CLIENT_ID": fake.client_id,
        "SLACK_CLIENT_SECRET": fake.client_secret,
    }


def install(web, workspace: FakeWorkspace) -> Page:
    """What a person's browser does: open /slack/install, follow "Add to Slack" to Slack (which, once
    the admin approves, redirects back with a code and the same state), keeping the state cookie."""
    page = get(web.url + "/slack/install")
    assert page.status == 200, page.body
    link = unescape(re.search(r'href="([^"]+)"', page.body).group(1))
    query = parse_qs(urlparse(link).query)
    assert link.startswith("https://slack.com/oauth/v2/authorize?")
    assert query["scope"][0].split(",") == list(DEFAULT_BOT_SCOPES)
    state = query["state"][0]
    cookie = page.headers["Set-Cookie"].split(";")[0]
    assert cookie == f"slack-app-oauth-state={state}"
    return get(
        web.url + "/slack/oauth_redirect?" + urlencode({"code": workspace.code, "state": state}), cookie
    )


def mention(team_id: str, channel: str, text: str = LEADS, user: str = "U0PAT00001") -> dict:
    ts = f"{time.time():.6f}"
    body = envelope(
        {
            "type": "app_mention",
            "text": f"<@{BOT_USER_ID}> {text}",
            "user": user,
            "ts": ts,
            "team": team_id,
            "channel": channel,
            "event_ts": ts,
        }
    )
    body["team_id"] = team_id
    body["authorizations"][0]["team_id"] = team_id
    return body


def team_event(team_id: str, event: dict) -> dict:
    body = envelope(event)
    body["team_id"] = team_id
    body["authorizations"][0]["team_id"] = team_id
    return body


def posts(fake: FakeSlack, channel: str) -> list:
    return [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == channel]


def run_bot(fake: FakeSlack, db_url: str, artifact: Path, tmp_path: Path, *args: str):
    env = server_env(fake, db_url, artifact, **oauth_env(fake))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def fake():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def oauth_web(fake, tmp_path, artifact):
    server = start_web_server(fake, tmp_path, artifact, **oauth_env(fake))
    yield server
    server.stop()


def test_default_scopes_are_the_manifests():
    manifest = json.loads((ROOT / "manifest.json").read_text())
    assert list(DEFAULT_BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert "app_uninstalled" in events and "tokens_revoked" in events


def test_oauth_settings_are_checked_in_one_line():
    base = {"SLACK_SIGNING_SECRET": "s", "TRUCE_PULSE_KEY": "k" * 32}
    settings = load_settings({**base, "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x"})
    assert settings.oauth and settings.mode == "http" and settings.scopes == DEFAULT_BOT_SCOPES
    assert "x" not in repr(settings).replace("oauth", "")
    scoped = load_settings(
        {**base, "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x", "SLACK_SCOPES": "chat:write, commands"}
    )
    assert scoped.scopes == ("chat:write", "commands")
    single = load_settings(
        {**base, "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x", "SLACK_BOT_TOKEN": "xoxb-1"}
    )
    assert not single.oauth and single.bot_token == "xoxb-1"
    for env, names in (
        ({**base, "SLACK_CLIENT_ID": "1.2"}, "SLACK_CLIENT_SECRET is missing"),
        ({**base, "SLACK_CLIENT_SECRET": "x"}, "SLACK_CLIENT_ID is missing"),
        (
            {"TRUCE_PULSE_KEY": "k" * 32, "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x"},
            "SLACK_SIGNING_SECRET",
        ),
        (
            {"SLACK_SIGNING_SECRET": "s", "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x"},
            "TRUCE_PULSE_KEY",
        ),
        (
            {
                **base,
                "SLACK_CLIENT_ID": "1.2",
                "SLACK_CLIENT_SECRET": "x",
                "SLACK_SCOPES": "chat:write;rm -rf",
            },
            "SLACK_SCOPES",
        ),
    ):
        with pytest.raises(ValueError) as caught:
            load_settings(env)
        assert names in str(caught.value) and "\n" not in str(caught.value)


def test_two_workspaces_install_answer_apart_and_one_leaves(fake, oauth_web, tmp_path, artifact):
    acme = fake.add_workspace("T0ACME0001", "Acme")
    globex = fake.add_workspace("T0GLOBEX01", "Globex")

    for workspace in (acme, globex):
        page = install(oauth_web, workspace)
        assert page.status == 200, page.body
        assert f"Truce is installed in {workspace.team_name}" in page.body
        assert "/invite @Truce" in page.body
    exchanges = fake.calls_to("oauth.v2.access")
    assert [c.params["code"] for c in exchanges] == [acme.code, globex.code]

    # A link can be used once: a replayed redirect installs nothing.
    replay = get(oauth_web.url + "/slack/oauth_redirect?" + urlencode({"code": acme.code, "state": "nope"}))
    assert replay.status in (400, 401) and "was not installed" in replay.body
    assert "Traceback" not in oauth_web.logs()

    sessions = connect(oauth_web.db_url)
    with sessions() as session:
        bots = {row.team_id: row.bot_token for row in session.execute(select(BOTS))}
    assert bots == {"T0ACME0001": acme.token, "T0GLOBEX01": globex.token}

    # Each workspace's mention is answered in its channel with its own token.
    assert post_signed_json(oauth_web.events_url, mention("T0ACME0001", "C0ACME0001")).status == 200
    assert post_signed_json(oauth_web.events_url, mention("T0GLOBEX01", "C0GLOBEX01")).status == 200
    assert wait_until(lambda: posts(fake, "C0ACME0001") and posts(fake, "C0GLOBEX01"))
    (acme_reply,) = posts(fake, "C0ACME0001")
    (globex_reply,) = posts(fake, "C0GLOBEX01")
    assert acme_reply.params["_token"] == acme.token
    assert globex_reply.params["_token"] == globex.token
    assert "lead" in acme_reply.params["text"].lower()

    # The answer process writes its counts a moment after the replies (bot/storage/counts_behind.py).
    def counted() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(DiagnosisEvent))

    assert wait_until(lambda: counted() == 2)

    # App Home of Acme counts Acme's diagnosis only, even for someone in both channels.
    fake.channels = [{"id": "C0ACME0001"}, {"id": "C0GLOBEX01"}]
    home = team_event(
        "T0ACME0001",
        {
            "type": "app_home_opened",
            "user": "U0PAT00001",
            "channel": "D0HOME0001",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
    )
    assert post_signed_json(oauth_web.events_url, home).status == 200
    (published,) = wait_until(lambda: fake.calls_to("views.publish"))
    assert published.params["_token"] == acme.token
    text = json.dumps(published.params["view"])
    counts = text.split("last 30 days")[1].split("The pulse in your channels")[0]
    assert "Lead quality and hand-off" in counts and "` 1" in counts and "` 2" not in counts

    # Exports: one workspace at a time.
    repo = Repository(sessions)
    repo.add_correction("acme words", "none", "lead_quality", "mention", "v1", team="T0ACME0001")
    repo.add_correction("globex words", "none", "pricing_dispute", "mention", "v1", team="T0GLOBEX01")
    mixed = run_bot(fake, oauth_web.db_url, artifact, tmp_path, "feedback", "export", "--out", "-")
    assert mixed.returncode == 2 and "--team" in mixed.stderr and len(mixed.stderr.strip().splitlines()) == 1
    only = run_bot(
        fake, oauth_web.db_url, artifact, tmp_path, "feedback", "export", "--team", "T0ACME0001", "--out", "-"
    )
    assert only.returncode == 0, only.stderr
    assert [json.loads(line)["text"] for line in only.stdout.splitlines()] == ["acme words"]
    with sessions.begin() as session:
        for team, channel, score in (("T0ACME0001", "C0ACME0001", 4.0), ("T0GLOBEX01", "C0GLOBEX01", 1.5)):
            closed = datetime.now(UTC) - timedelta(days=1)
            session.add(
                PulsePoll(
                    team_id=team,
                    channel_id=channel,
                    period_key="2026-W40",
                    status="closed",
                    opened_at=closed - timedelta(days=3),
                    closes_at=closed,
                    closed_at=closed,
                    responses=5,
                    avg_score=score,
                )
            )
    csv = run_bot(fake, oauth_web.db_url, artifact, tmp_path, "pulse", "export", "--team", "T0GLOBEX01")
    assert csv.returncode == 0, csv.stderr
    assert "C0GLOBEX01" in csv.stdout and "C0ACME0001" not in csv.stdout

    # Globex uninstalls: its installation and its data go, Acme's stay.
    fake.uninstall("T0GLOBEX01")
    gone = team_event("T0GLOBEX01", {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"})
    assert post_signed_json(oauth_web.events_url, gone).status == 200

    def globex_rows():
        with sessions() as session:
            counts = [
                session.scalar(select(func.count()).select_from(table).where(column == "T0GLOBEX01"))
                for table, column in (
                    (BOTS, BOTS.c.team_id),
                    (INSTALLATIONS, INSTALLATIONS.c.team_id),
                    (DiagnosisEvent, DiagnosisEvent.team_id),
                    (PulsePoll, PulsePoll.team_id),
                )
            ]
        return sum(counts) + len(repo.corrections("T0GLOBEX01"))

    assert wait_until(lambda: globex_rows() == 0, timeout=10)
    assert len(repo.corrections("T0ACME0001")) == 1
    with sessions() as session:
        assert (
            session.scalar(select(func.count()).select_from(BOTS).where(BOTS.c.team_id == "T0ACME0001")) == 1
        )
    assert re.search(
        r"workspace T0GLOBEX01: app uninstalled; deleted its installation and \d+ rows", oauth_web.logs()
    )
    assert globex.token not in oauth_web.logs() and acme.token not in oauth_web.logs()

    # Globex's later events are acknowledged and ignored; Acme carries on.
    before = len(fake.calls_to("chat.postMessage"))
    late = post_signed_json(oauth_web.events_url, mention("T0GLOBEX01", "C0GLOBEX01"))
    assert late.status == 200
    assert post_signed_json(oauth_web.events_url, mention("T0ACME0001", "C0ACME0001")).status == 200
    assert wait_until(lambda: len(posts(fake, "C0ACME0001")) == 2)
    time.sleep(0.5)
    assert len(fake.calls_to("chat.postMessage")) == before + 1
    assert oauth_web.process.poll() is None


def test_a_rotating_token_is_refreshed_through_the_loopback_api(fake, oauth_web):
    initech = fake.add_workspace("T0INITECH1", "Initech", rotating=True, expires_in=3600)
    assert install(oauth_web, initech).status == 200
    first_token = initech.token
    assert first_token.startswith("xoxe.xoxb-")

    assert post_signed_json(oauth_web.events_url, mention("T0INITECH1", "C0INITECH1")).status == 200
    (reply,) = wait_until(lambda: posts(fake, "C0INITECH1"))
    refreshes = [c for c in fake.calls_to("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1  # the token expires within 2 hours: Bolt renewed it first
    assert initech.token != first_token
    assert reply.params["_token"] == initech.token
    with connect(oauth_web.db_url)() as session:
        stored = (
            session.execute(
                select(BOTS.c.bot_token).where(BOTS.c.team_id == "T0INITECH1").order_by(BOTS.c.installed_at)
            )
            .scalars()
            .all()
        )
    assert stored[-1] == initech.token

    # The renewed token lasts 12 hours: the next event needs no refresh.
    assert post_signed_json(oauth_web.events_url, mention("T0INITECH1", "C0INITECH1")).status == 200
    assert wait_until(lambda: len(posts(fake, "C0INITECH1")) == 2)
    assert (
        len([c for c in fake.calls_to("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"])
        == 1
    )


def test_the_clock_posts_each_workspaces_poll_with_its_own_token(fake, oauth_web, tmp_path, artifact):
    from dataclasses import replace

    from bot.scheduler import Clock
    from tests.conftest import make_settings

    workspaces = [fake.add_workspace(f"T0CLOCK{n:03d}", rotating=n == 1, expires_in=60) for n in range(3)]
    for workspace in workspaces:
        assert install(oauth_web, workspace).status == 200
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    run = now - timedelta(minutes=1)
    sessions = connect(oauth_web.db_url)
    with sessions.begin() as session:
        for n, workspace in enumerate(workspaces):
            session.add(
                PulseChannel(
                    team_id=workspace.team_id,
                    channel_id=f"C0CLOCK{n:03d}",
                    weekday=run.weekday(),
                    time=f"{run:%H:%M}",
                    timezone="UTC",
                    active_since=now - timedelta(days=8),
                )
            )
    settings = replace(
        make_settings(fake, oauth_web.db_url, artifact),
        bot_token=None,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
    )
    throttled = workspaces[0].token

    limited = []

    def slow_workspace(method, params, attempt):  # Slack is rate-limiting this one workspace
        if method == "chat.postMessage" and params.get("_token") == throttled and not limited:
            limited.append(params.get("channel"))
            return 429, {"Retry-After": "2"}, {"ok": False, "error": "ratelimited"}
        return None

    fake.fault = slow_workspace
    clock = Clock(settings, sessions)
    report = clock.tick(now)
    assert report.counts["sent"] == 3, report.line()
    for n, workspace in enumerate(workspaces):
        (poll,) = posts(fake, f"C0CLOCK{n:03d}")
        assert poll.params["_token"] == workspace.token
    assert [c.params.get("grant_type") for c in fake.calls_to("oauth.v2.access")].count("refresh_token") == 1
    # The throttled workspace waited out its Retry-After on its own thread: the others went first.
    assert limited == ["C0CLOCK000"]
    assert fake.calls_to("chat.postMessage")[-1].params["_token"] == throttled
    # Nothing is due any more: the next tick asks the database and posts nothing.
    assert clock.tick(now + timedelta(minutes=1)).counts["sent"] == 0
    assert len(fake.calls_to("chat.postMessage")) == 3
    assert clock.due(now + timedelta(minutes=2)) == []


def test_a_revoked_bot_token_forgets_that_workspace_only(app, deps):
    """Single-workspace mode has no installation store, but a revoked bot token still takes the
    workspace's data with it; another team's rows (say, from before a move) are untouched."""
    from bot.fakeslack import TEAM_ID
    from tests.remedy_payloads import dispatch_event

    repo = deps.repo
    repo.record_diagnosis("lead_quality", "mention", team=TEAM_ID, channel_id="C0SALESMKT")
    repo.add_correction("our words", "none", "lead_quality", "mention", "v1", team=TEAM_ID)
    repo.record_diagnosis("lead_quality", "mention", team="T0OTHER001", channel_id="C0ELSEWHR1")
    experiments = deps.experiment_repo
    now = datetime.now(UTC)
    for team, channel in ((TEAM_ID, "C0SALESMKT"), ("T0OTHER001", "C0ELSEWHR1")):
        experiment = experiments.add_experiment(
            team_id=team,
            enterprise_id=None,
            channel_id=channel,
            thread_ts=None,
            cause_id="lead_quality",
            remedy="Write a lead SLA this week",
            owner_id=None,
            started_on=now.date(),
            checkin_on=now.date(),
            checkin_at=now,
            now=now,
        )
        checkin = experiments.claim_checkin(experiment, now, now + timedelta(days=3), now)
        experiments.mark_checkin_open(team, checkin.id, "1700000000.000900")
        vote = experiments.record_answer(
            team, checkin.id, "hash", "helped", now, channel_id=channel, message_ts="1700000000.000900"
        )
        assert vote.status == "ok"
    user_only = team_event(TEAM_ID, {"type": "tokens_revoked", "tokens": {"oauth": ["U0PAT00001"]}})
    user_only["team_id"] = TEAM_ID
    assert dispatch_event(app, user_only).status == 200
    assert len(repo.corrections(TEAM_ID)) == 1  # a person's user token: the workspace stays
    revoked = team_event(TEAM_ID, {"type": "tokens_revoked", "tokens": {"bot": [BOT_USER_ID]}})
    assert dispatch_event(app, revoked).status == 200
    with deps.sessions() as session:
        teams = session.scalars(select(DiagnosisEvent.team_id)).all()
    assert teams == ["T0OTHER001"]
    assert repo.corrections(TEAM_ID) == []
    # Its experiments, check-ins and check-in answers go too; the other team's stay.
    with deps.sessions() as session:
        for model in (Experiment, Checkin, CheckinAnswer):
            assert session.scalars(select(model.team_id)).all() == ["T0OTHER001"], model.__tablename__
