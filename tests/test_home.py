"""App Home: the playbook, pulse trends that respect the anonymity threshold, counts, your settings."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from bot import ids
from bot.fakeslack import TEAM_ID
from bot.storage.db import connect
from bot.storage.models import DiagnosisEvent, PulseChannel, PulsePoll
from bot.storage.repository import Repository
from bot.views.validate import view_problems
from tests.remedy_payloads import app_home_opened, dispatch_event, dispatch_interaction
from tests.slack import block_action, post_signed_interaction, post_signed_json

NOW = datetime.now(UTC)


def poll(channel: str, weeks_ago: int, score: float, responses: int = 5, status: str = "closed") -> PulsePoll:
    closed = NOW - timedelta(weeks=weeks_ago, hours=1)
    return PulsePoll(
        team_id=TEAM_ID,
        channel_id=channel,
        period_key=f"{closed:%G-W%V}",
        status=status,
        opened_at=closed - timedelta(days=3),
        closes_at=closed,
        closed_at=closed if status == "closed" else None,
        responses=responses,
        avg_score=score,
    )


def fill_busy(sessions, channels: int = 150, weeks: int = 30, events: int = 400) -> None:
    with sessions.begin() as session:
        for n in range(channels):
            channel = f"C{n:08d}"
            session.add(
                PulseChannel(
                    team_id=TEAM_ID, channel_id=channel, weekday=n % 7, time="09:30", timezone="Europe/Berlin"
                )
            )
            for w in range(weeks):
                session.add(poll(channel, w, 1 + (n + w) % 40 / 10, responses=3 + w % 5))
        labels = ["lead_quality", "credit_dispute", "none", "pricing_dispute", "blame_game"]
        for i in range(events):  # in a channel the viewer is in (the even ones)
            session.add(
                DiagnosisEvent(
                    team_id=TEAM_ID, label=labels[i % len(labels)], surface="mention", channel_id="C00000000"
                )
            )
        for i in range(events):  # elsewhere: never counted on the viewer's Home
            where = {"channel_id": "C00000001"} if i % 2 else {"channel_id": None, "surface": "shortcut"}
            session.add(
                DiagnosisEvent(
                    team_id=TEAM_ID, **{"label": labels[i % len(labels)], "surface": "mention", **where}
                )
            )


def published(fake) -> dict:
    (call,) = fake.calls_to("views.publish")
    return call.params


def home_text(view: dict) -> str:
    return "\n".join(
        str(b.get("text", {}).get("text", ""))
        + " ".join(str(e.get("text", "")) for e in b.get("elements", []))
        for b in view["blocks"]
    )


# ---- the repository contract with the pulse --------------------------------------------------------
def test_trends_only_use_closed_polls_above_the_threshold(deps):
    with deps.sessions.begin() as session:
        session.add_all(
            [
                poll("C1", 3, 2.0),
                poll("C1", 2, 3.0, responses=2),  # too few answers: never shown
                poll("C1", 1, 4.0),
                poll("C1", 0, 5.0, status="open"),  # still open: never shown
                poll("C1", 12, 1.0),  # older than the window
                poll("C2", 1, 2.5, responses=3),
            ]
        )
    trends = deps.repo.pulse_trends(weeks=8, min_responses=3, now=NOW, team=TEAM_ID)
    assert [p.avg_score for p in trends["C1"]] == [2.0, 4.0]
    assert [p.avg_score for p in trends["C2"]] == [2.5]
    assert deps.repo.pulse_trends(["C2"], min_responses=3, now=NOW, team=TEAM_ID).keys() == {"C2"}
    assert deps.repo.pulse_trends(min_responses=6, now=NOW, team=TEAM_ID) == {}


def test_pulse_channels_for_the_viewer(deps):
    with deps.sessions.begin() as session:
        session.add_all(
            [
                PulseChannel(team_id=TEAM_ID, channel_id="C1"),
                PulseChannel(team_id=TEAM_ID, channel_id="C2", enabled=False),
            ]
        )
    assert [c.channel_id for c in deps.repo.pulse_channels({"C2", "C9"}, team=TEAM_ID)] == ["C2"]
    assert len(deps.repo.pulse_channels(team=TEAM_ID)) == 2


# ---- handler tier ----------------------------------------------------------------------------------
def test_opening_home_publishes_once_for_the_viewer(app, fake_slack):
    dispatch_event(app, app_home_opened(user="U0VIEWER1"))
    params = published(fake_slack)
    assert params["user_id"] == "U0VIEWER1"
    assert params["view"]["type"] == "home"
    assert view_problems(params["view"]) == []


def test_the_messages_tab_publishes_nothing(app, fake_slack):
    dispatch_event(app, app_home_opened(tab="messages"))
    assert fake_slack.calls_to("views.publish") == []


def test_settings_show_only_the_viewers_channels(app, fake_slack, deps):
    with deps.sessions.begin() as session:
        session.add_all(
            [
                PulseChannel(
                    team_id=TEAM_ID,
                    channel_id="C0MINE0001",
                    weekday=4,
                    time="15:00",
                    timezone="Europe/Berlin",
                ),
                PulseChannel(team_id=TEAM_ID, channel_id="C0MINE0002", enabled=False),
                PulseChannel(team_id=TEAM_ID, channel_id="C0NOTMINE1"),
            ]
        )
    fake_slack.channels = [{"id": "C0MINE0001"}, {"id": "C0MINE0002"}, {"id": "C0NOPULSE1"}]
    dispatch_event(app, app_home_opened())
    (lookup,) = fake_slack.calls_to("users.conversations")
    assert lookup.params["user"] == "U0AE00001"
    text = home_text(published(fake_slack)["view"])
    assert "<#C0MINE0001> — every Friday at 15:00 (Europe/Berlin)" in text
    assert "<#C0MINE0002> — paused" in text
    assert "C0NOTMINE1>" not in text.split("The pulse in your channels")[-1]


def test_when_slack_cannot_list_channels_home_still_opens(app, fake_slack):
    fake_slack.fault = lambda method, params, attempt: (
        (200, {}, {"ok": False, "error": "missing_scope"}) if method == "users.conversations" else None
    )
    dispatch_event(app, app_home_opened())
    view = published(fake_slack)["view"]
    assert view_problems(view) == []
    assert "couldn't look up your channels" in home_text(view)
    assert "The playbook" in home_text(view)


def test_a_cause_opened_from_home_opens_a_modal(app, fake_slack):
    action = {"type": "button", "action_id": f"{ids.CAUSE_OPEN_PREFIX}lead_quality", "value": "lead_quality"}
    payload = block_action(action, fake_slack.response_url())
    payload["container"] = {"type": "view", "view_id": "V0HOME0001"}
    payload["view"] = {"id": "V0HOME0001", "type": "home"}
    payload.pop("message")
    payload.pop("channel")
    payload.pop("response_url")
    dispatch_interaction(app, payload)
    (opened,) = fake_slack.calls_to("views.open")
    assert view_problems(opened.params["view"]) == []
    assert "Lead quality and hand-off" in str(opened.params["view"]["blocks"][0])
    assert fake_slack.calls_to("response_url") == []


# ---- end to end ------------------------------------------------------------------------------------
@pytest.fixture
def clean_db(web, module_fake_slack):
    sessions = connect(web.db_url)
    yield sessions
    module_fake_slack.channels = []
    with sessions.begin() as session:
        for table in (PulsePoll, PulseChannel, DiagnosisEvent):
            session.query(table).delete()


def test_home_for_an_empty_workspace(web, slack_api, clean_db):
    assert post_signed_json(web.events_url, app_home_opened()).status == 200
    slack_api.wait_for("views.publish")
    time.sleep(0.3)
    view = published(slack_api)["view"]
    assert view_problems(view) == []
    text = home_text(view)
    assert "No pulse results yet" in text
    assert "No diagnoses in your channels yet" in text
    assert "None of your channels runs the pulse yet" in text
    causes = [
        b
        for b in view["blocks"]
        if b.get("accessory", {}).get("action_id", "").startswith(ids.CAUSE_OPEN_PREFIX)
    ]
    assert len(causes) == 13


def test_home_for_a_busy_workspace(web, slack_api, clean_db):
    fill_busy(clean_db)
    slack_api.channels = [{"id": f"C{n:08d}"} for n in range(0, 150, 2)]
    reply = post_signed_json(web.events_url, app_home_opened())
    assert reply.status == 200 and reply.seconds < 3
    slack_api.wait_for("views.publish", timeout=10)
    time.sleep(0.3)
    view = published(slack_api)["view"]
    assert view_problems(view) == []
    assert len(view["blocks"]) <= 100
    text = home_text(view)
    assert "more channels with pulse results" in text
    assert "<#C00000000>" in text
    assert "`" in text and "→" in text, "a sparkline and the change per channel"
    assert "Lead quality and hand-off" in text and " 80" in text, "counts per cause over 30 days"
    assert "No friction seen  80" in text
    assert "every Monday at 09:30 (Europe/Berlin)" in text
    assert "<#C00000001>" not in text, "trends and settings of channels the viewer is not in stay hidden"
    assert "…and 55 more" in text


def test_a_below_threshold_week_never_shows(web, slack_api, clean_db):
    with clean_db.begin() as session:
        session.add(poll("C0FEWVOTES", 1, 1.0, responses=2))
        session.add(poll("C0ENOUGH01", 1, 4.0, responses=3))
        session.add(poll("C0NOTMINE1", 1, 4.0, responses=9))
    slack_api.channels = [{"id": "C0FEWVOTES"}, {"id": "C0ENOUGH01"}]
    post_signed_json(web.events_url, app_home_opened())
    slack_api.wait_for("views.publish")
    text = home_text(published(slack_api)["view"])
    assert "C0FEWVOTES" not in text
    assert "<#C0ENOUGH01>" in text
    assert "C0NOTMINE1" not in text, "results of a channel the viewer is not in stay hidden"


def test_cause_from_home_end_to_end(web, slack_api):
    action = {
        "type": "button",
        "action_id": f"{ids.CAUSE_OPEN_PREFIX}pricing_dispute",
        "value": "pricing_dispute",
    }
    payload = block_action(action, "")
    payload["container"] = {"type": "view", "view_id": "V0HOME0001"}
    payload["view"] = {"id": "V0HOME0001", "type": "home"}
    for key in ("message", "channel", "response_url"):
        payload.pop(key)
    assert post_signed_interaction(web.events_url, payload).status == 200
    (opened,) = slack_api.wait_for("views.open")
    assert "Pricing and discounts" in str(opened.params["view"]["blocks"][0])


def test_home_counts_come_from_the_repository(deps):
    repo = Repository(deps.sessions)
    repo.record_diagnosis("lead_quality", "mention", channel_id="C0MINE0001", team=TEAM_ID)
    repo.record_diagnosis("lead_quality", "remedy", channel_id="C0MINE0002", team=TEAM_ID)
    repo.record_diagnosis("pricing_dispute", "mention", channel_id="C0NOTMINE1", team=TEAM_ID)
    repo.record_diagnosis("blame_game", "shortcut", team=TEAM_ID)
    since = NOW - timedelta(days=30)
    assert repo.diagnosis_counts(since, {"C0MINE0001", "C0MINE0002"}, team=TEAM_ID) == {"lead_quality": 2}
    assert repo.diagnosis_counts(since, [], team=TEAM_ID) == {}


def test_diagnosis_counts_on_home_are_only_from_the_viewers_channels(app, fake_slack, deps):
    repo = Repository(deps.sessions)
    for label, channel in [
        ("lead_quality", "C0MINE0001"),
        ("lead_quality", "C0MINE0001"),
        ("pricing_dispute", "C0PRIVATE1"),  # a private channel the viewer is not in
        ("pricing_dispute", "C0PRIVATE1"),
        ("blame_game", None),  # a DM or the shortcut
    ]:
        repo.record_diagnosis(label, "mention", channel_id=channel, team=TEAM_ID)
    fake_slack.channels = [{"id": "C0MINE0001"}]
    dispatch_event(app, app_home_opened())
    text = home_text(published(fake_slack)["view"])
    counts = text.split("last 30 days")[1].split("The pulse in your channels")[0]
    assert "Lead quality and hand-off" in counts and "` 2" in counts
    assert "Pricing" not in counts and "Blame" not in counts
