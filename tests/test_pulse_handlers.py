"""/pulse, poll clicks and channel membership, through the real Bolt app and a loopback Web API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import ids
from bot.fakeslack import BOT_USER_ID, TEAM_ID
from bot.scheduler import run_pulse_job
from bot.views.validate import message_problems
from tests.remedy_payloads import body_json, dispatch_event, dispatch_form, dispatch_interaction
from tests.slack import block_action, envelope, slash_command

CHANNEL = "C0SALESMKT"


def pulse(app, fake, text: str, channel: str = CHANNEL, user: str = "U0AE00001"):
    """Run `/pulse <text>`; returns (ack body, what came back through the response_url)."""
    fake.reset()
    response = dispatch_form(
        app, slash_command("/pulse", text, fake.response_url(), channel=channel, user=user)
    )
    assert response.status == 200
    return body_json(response), [c.params for c in fake.calls_to("response_url")]


def joined(app, channel: str = CHANNEL, user: str = BOT_USER_ID):
    event = {
        "type": "member_joined_channel",
        "user": user,
        "channel": channel,
        "channel_type": "C",
        "team": TEAM_ID,
    }
    return dispatch_event(app, envelope(event))


@pytest.fixture
def member(app, fake_slack):
    joined(app)
    fake_slack.reset()
    return CHANNEL


def click(app, fake, poll: dict, action_id: str, user: str, option_value: str | None = None):
    """Click an element of the posted poll, the way Slack reports it."""
    elements = [e for b in poll["blocks"] if b["type"] == "actions" for e in b["elements"]]
    element = next(e for e in elements if e["action_id"] == action_id)
    action = {"action_id": action_id, "block_id": "x", "type": element["type"]}
    if element["type"] == "button":
        action |= {"value": element["value"], "text": element["text"]}
    else:
        option = next(o for o in element["options"] if o["value"].endswith(":" + option_value))
        action |= {"selected_option": option}
    payload = block_action(
        action, fake.response_url(), user=user, channel=poll["channel"], message_ts=poll["ts"]
    )
    assert dispatch_interaction(app, payload).status == 200


def post_poll(app, fake, channel: str = CHANNEL) -> dict:
    pulse(app, fake, "now", channel=channel)
    (call,) = [c for c in fake.calls_to("chat.postMessage") if "Weekly pulse" in c.params["text"]]
    return {**call.params, "ts": call.reply["ts"]}


# ---- membership ------------------------------------------------------------------------------------
def test_inviting_truce_opts_the_channel_in_and_says_how(app, deps, fake_slack):
    assert joined(app).status == 200
    (hello,) = fake_slack.calls_to("chat.postMessage")
    assert hello.params["channel"] == CHANNEL
    assert "Mondays at 10:00 (UTC)" in hello.params["text"] and "/pulse off" in hello.params["text"]
    row = deps.pulse_repo.channel(CHANNEL)
    assert row.enabled and row.member and (row.weekday, row.time, row.timezone) == (0, "10:00", "UTC")
    joined(app)  # a second delivery of the same join says nothing new
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_someone_else_joining_changes_nothing(app, deps, fake_slack):
    joined(app, user="U0AE00009")
    assert deps.pulse_repo.channel(CHANNEL) is None
    assert fake_slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("kind", ["channel_left", "group_left"])
def test_removing_truce_stops_the_pulse_there(app, deps, member, kind):
    dispatch_event(app, envelope({"type": kind, "channel": member, "actor_id": "U0AE00001"}))
    assert deps.pulse_repo.channel(member).member is False
    assert deps.pulse_repo.channels() == []


# ---- /pulse ---------------------------------------------------------------------------------------
def test_status_shows_schedule_next_run_and_last_results(app, fake_slack, member):
    ack, (reply,) = pulse(app, fake_slack, "")
    assert ack == {} or not ack.get("text")
    assert reply["response_type"] == "ephemeral"
    assert "Weekly pulse: on" in reply["text"] and "Mondays at 10:00 (UTC)" in reply["text"]
    assert "Next poll: Mon" in reply["text"] and "none yet" in reply["text"]
    assert message_problems(reply) == []


@pytest.mark.parametrize("text", ["frobnicate", "schedule-ish", "delete everything"])
def test_unknown_arguments_get_the_usage(app, fake_slack, member, text):
    ack, replies = pulse(app, fake_slack, text)
    assert "I don't know" in ack["text"] and "/pulse schedule fri 15:00" in ack["text"]
    assert ack["response_type"] == "ephemeral" and replies == []


def test_help_is_the_usage_without_a_complaint(app, fake_slack, member):
    ack, _ = pulse(app, fake_slack, "help")
    assert "I don't know" not in ack["text"] and "/pulse on" in ack["text"]


def test_off_and_on(app, deps, fake_slack, member):
    _, (reply,) = pulse(app, fake_slack, "off")
    assert reply["response_type"] == "in_channel" and "off" in reply["text"]
    assert deps.pulse_repo.channel(member).enabled is False
    _, (status,) = pulse(app, fake_slack, "")
    assert "Weekly pulse: off" in status["text"] and "Next poll" not in status["text"]
    _, (reply,) = pulse(app, fake_slack, "ON")
    assert "on" in reply["text"] and deps.pulse_repo.channel(member).enabled


def test_changing_the_schedule(app, deps, fake_slack, member):
    _, (reply,) = pulse(app, fake_slack, "schedule fri 15:00 Europe/Berlin")
    assert reply["response_type"] == "in_channel"
    assert "Fridays at 15:00 (Europe/Berlin)" in reply["text"] and "Next poll: Fri" in reply["text"]
    row = deps.pulse_repo.channel(member)
    assert (row.weekday, row.time, row.timezone) == (4, "15:00", "Europe/Berlin")
    _, (reply,) = pulse(app, fake_slack, "schedule tue 9:30")  # the channel keeps its timezone
    assert "Tuesdays at 09:30 (Europe/Berlin)" in reply["text"]


def test_a_bad_schedule_is_explained_privately_and_changes_nothing(app, deps, fake_slack, member):
    _, (reply,) = pulse(app, fake_slack, "schedule fri 15:00 Mars/Olympus")
    assert reply["response_type"] == "ephemeral" and "not a timezone" in reply["text"]
    assert deps.pulse_repo.channel(member).weekday == 0


def test_pulse_now_posts_one_poll_per_week(app, fake_slack, member):
    poll = post_poll(app, fake_slack)
    assert poll["channel"] == member and message_problems(poll) == []
    _, (reply,) = pulse(app, fake_slack, "now")
    assert "already open" in reply["text"]
    assert fake_slack.calls_to("chat.postMessage") == []


def test_a_channel_truce_is_not_in_is_told_to_invite_it(app, fake_slack):
    fake_slack.channels = [{"id": "C0OUTSIDE1", "is_member": False}]
    _, (reply,) = pulse(app, fake_slack, "now", channel="C0OUTSIDE1")
    assert "/invite @Truce" in reply["text"]
    assert fake_slack.calls_to("chat.postMessage") == []


def test_a_channel_whose_join_was_missed_is_opted_in_by_pulse(app, deps, fake_slack):
    _, (reply,) = pulse(app, fake_slack, "")  # the fake says Truce is a member
    assert "Weekly pulse: on" in reply["text"]
    assert deps.pulse_repo.channel(CHANNEL).member


def test_results_before_any_poll_closed(app, fake_slack, member):
    post_poll(app, fake_slack)
    _, (reply,) = pulse(app, fake_slack, "results")
    assert "No results yet" in reply["text"] and "closes" in reply["text"]


# ---- answering ------------------------------------------------------------------------------------
def test_each_click_is_confirmed_to_that_person_only_and_the_count_updates(app, deps, fake_slack, member):
    poll = post_poll(app, fake_slack)
    fake_slack.reset()
    click(app, fake_slack, poll, f"{ids.PULSE_SIDE}:sales", "U0AE00001")
    (confirm,) = fake_slack.calls_to("chat.postEphemeral")
    assert (confirm.params["user"], confirm.params["channel"]) == ("U0AE00001", member)
    assert "Sales" in confirm.params["text"] and "question 2 and 3" in confirm.params["text"]
    (update,) = fake_slack.calls_to("chat.update")
    assert "1 response so far" in update.params["text"]
    click(app, fake_slack, poll, f"{ids.PULSE_SCORE}:4", "U0AE00001")
    click(app, fake_slack, poll, ids.PULSE_CAUSE, "U0AE00001", option_value="lead_quality")
    last = fake_slack.calls_to("chat.postEphemeral")[-1]
    assert "Sales · 4/5 · Lead quality and hand-off" in last.params["text"]
    assert len(fake_slack.calls_to("chat.update")) == 1  # the same person: still one response
    click(app, fake_slack, poll, f"{ids.PULSE_SCORE}:2", "U0AE00002")
    assert "2 responses" in fake_slack.calls_to("chat.update")[-1].params["text"]
    assert fake_slack.calls_to("chat.postMessage") == []  # nothing public about who answered


@pytest.mark.parametrize("where", ["another channel", "another message"])
def test_a_click_carrying_a_polls_value_from_elsewhere_is_not_counted(app, deps, fake_slack, member, where):
    poll = post_poll(app, fake_slack)
    poll_id = int(poll["blocks"][3]["elements"][0]["value"].split(":")[0])
    fake_slack.reset()
    # The same button value, sent from a message that is not the poll: a copy, or a forged message.
    elsewhere = (
        {**poll, "channel": "C0ELSEWHERE"} if where == "another channel" else {**poll, "ts": "9.000009"}
    )
    click(app, fake_slack, elsewhere, f"{ids.PULSE_SCORE}:1", "U0AE00001")
    (reply,) = fake_slack.calls_to("chat.postEphemeral")
    assert reply.params["user"] == "U0AE00001" and reply.params["channel"] == elsewhere["channel"]
    assert "doesn't belong to this poll" in reply.params["text"] and "not counted" in reply.params["text"]
    assert deps.pulse_repo.response_count(poll_id) == 0
    assert fake_slack.calls_to("chat.update") == []
    click(app, fake_slack, poll, f"{ids.PULSE_SCORE}:1", "U0AE00001")  # the poll itself still counts
    assert deps.pulse_repo.response_count(poll_id) == 1


def test_a_click_after_the_poll_closed_is_answered_privately(app, deps, fake_slack, member):
    poll = post_poll(app, fake_slack)
    deps.clock = lambda: datetime.now(UTC) + timedelta(days=4)
    fake_slack.reset()
    click(app, fake_slack, poll, f"{ids.PULSE_SCORE}:5", "U0AE00001")
    (reply,) = fake_slack.calls_to("chat.postEphemeral")
    assert "has closed" in reply.params["text"]
    assert fake_slack.calls_to("chat.update") == []


def test_a_forged_choice_is_ignored(app, deps, fake_slack, member):
    poll = post_poll(app, fake_slack)
    fake_slack.reset()
    poll_id = poll["blocks"][3]["elements"][0]["value"].split(":")[0]
    payload = block_action(
        {"action_id": f"{ids.PULSE_SCORE}:9", "value": f"{poll_id}:9", "type": "button"},
        fake_slack.response_url(),
        channel=member,
    )
    assert dispatch_interaction(app, payload).status == 200
    assert fake_slack.calls_to("chat.postEphemeral") == []
    assert deps.pulse_repo.response_count(int(poll_id)) == 0


def test_results_and_status_after_a_poll_closed(app, deps, fake_slack, member):
    poll = post_poll(app, fake_slack)
    for user, score in (("U0AE00001", 2), ("U0AE00002", 4), ("U0AE00003", 5)):
        click(app, fake_slack, poll, f"{ids.PULSE_SCORE}:{score}", user)
    report = run_pulse_job(deps.settings, "close", [member])
    assert report == 0
    _, (results,) = pulse(app, fake_slack, "results")
    assert results["response_type"] == "ephemeral"
    assert "3 people answered" in results["text"] and "3.7/5" in results["text"]
    _, (status,) = pulse(app, fake_slack, "")
    assert "Last results: week" in status["text"] and "3 people, average 3.7/5" in status["text"]
    _, (again,) = pulse(app, fake_slack, "now")
    assert "already run" in again["text"] and fake_slack.calls_to("chat.postMessage") == []


def test_a_database_failure_during_a_vote_asks_to_try_again_and_writes_nothing(
    app, deps, fake_slack, member, monkeypatch
):
    from sqlalchemy import func, select
    from sqlalchemy.exc import OperationalError

    from bot.storage.models import PulseResponse
    from bot.storage.pulse_repository import PulseRepository

    poll = post_poll(app, fake_slack)
    fake_slack.reset()
    real_add = PulseRepository.record_answer

    def failing_record_answer(self, *args, **kwargs):
        with self.transaction() as session:  # the write starts, then the database fails mid-way
            session.add(PulseResponse(poll_id=args[0], voter_hash="x" * 64, side="sales"))
            session.flush()
            raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(PulseRepository, "record_answer", failing_record_answer)
    click(app, fake_slack, poll, f"{ids.PULSE_SIDE}:sales", "U0AE00001")
    (reply,) = fake_slack.calls_to("chat.postEphemeral")
    assert reply.params["user"] == "U0AE00001"
    assert "try again" in reply.params["text"]
    with deps.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PulseResponse)) == 0  # nothing half-written
    monkeypatch.setattr(PulseRepository, "record_answer", real_add)
    click(app, fake_slack, poll, f"{ids.PULSE_SIDE}:sales", "U0AE00001")
    assert "Sales" in fake_slack.calls_to("chat.postEphemeral")[-1].params["text"]


# ---- what a person typed comes back safely ---------------------------------------------------------
def test_a_timezone_that_is_a_folder_is_unknown_not_an_error(app, deps, fake_slack, member, caplog):
    _, (reply,) = pulse(app, fake_slack, "schedule fri 10:00 America")
    assert reply["response_type"] == "ephemeral"
    assert "`America` is not a timezone I know" in reply["text"] and "Sorry" not in reply["text"]
    assert deps.pulse_repo.channel(member).weekday == 0
    assert [r for r in caplog.records if r.levelno >= 40] == []  # no traceback carrying the typed word
    assert "America" not in caplog.text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("schedule <!channel> 10:00", "`&lt;!channel&gt;` is not a weekday"),
        ("schedule fri <@U0AE00002> Europe/Berlin", "`&lt;@U0AE00002&gt;` is not a time"),
        (
            "schedule fri 10:00 <https://evil.example|Europe/Berlin>",
            "`&lt;https://evil.example|Europe/Berlin&gt;`",
        ),
        ("schedule fri 10:00 R&D", "`R&amp;D` is not a timezone"),
    ],
)
def test_typed_words_are_echoed_escaped(app, fake_slack, member, text, shown):
    _, (reply,) = pulse(app, fake_slack, text)
    section_text = reply["blocks"][0]["text"]["text"]
    assert shown in section_text
    assert "<!channel>" not in section_text and "<@" not in section_text and "<http" not in section_text
