"""The "Diagnose friction" message shortcut answers only the person who used it, never the channel."""

from __future__ import annotations

import time

import pytest

from bot import ids
from bot.storage.models import DiagnosisEvent
from bot.views.validate import message_problems
from tests.remedy_payloads import dispatch_interaction, message_action
from tests.slack import post_signed_interaction

LEADS = "the leads from last week's webinar are junk again, half of them are students"


def refuse(method: str, error: str):
    def fault(called, params, attempt):
        if called == method:
            return 200, {}, {"ok": False, "error": error}
        return None

    return fault


def button_ids(blocks: list[dict]) -> list[str]:
    return [e.get("action_id") for b in blocks for e in b.get("elements", []) if e.get("type") == "button"]


# ---- handler tier: the real app, a fake Web API --------------------------------------------------
def test_the_answer_is_ephemeral_to_the_user_who_asked(app, fake_slack, deps):
    response = dispatch_interaction(app, message_action(LEADS, fake_slack.response_url(), user="U0ASKER01"))
    assert response.status == 200
    (call,) = fake_slack.calls_to("chat.postEphemeral")
    assert call.params["user"] == "U0ASKER01"
    assert call.params["channel"] == "C0SALESMKT"
    assert "lead" in call.params["text"].lower()
    blocks = call.params["blocks"]
    assert message_problems({"text": call.params["text"], "blocks": blocks}) == []
    assert "Only you can see this" in blocks[0]["elements"][0]["text"]
    assert {ids.FEEDBACK_HELPFUL, ids.FEEDBACK_NOT_QUITE} <= set(button_ids(blocks))
    assert fake_slack.calls_to("chat.postMessage") == []
    assert fake_slack.calls_to("response_url") == []
    with deps.sessions() as session:
        events = session.query(DiagnosisEvent).all()
    assert [(e.label, e.surface, e.channel_id) for e in events] == [
        ("lead_quality", "shortcut", None)  # private: where would narrow down who asked
    ]


def test_a_message_in_a_thread_is_answered_in_that_thread(app, fake_slack):
    parent = "1700000000.000100"
    dispatch_interaction(app, message_action(LEADS, fake_slack.response_url(), thread_ts=parent))
    (call,) = fake_slack.calls_to("chat.postEphemeral")
    assert call.params["thread_ts"] == parent


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "user_not_in_channel"])
def test_when_the_channel_refuses_it_falls_back_to_a_dm(app, fake_slack, error):
    fake_slack.fault = refuse("chat.postEphemeral", error)
    dispatch_interaction(app, message_action(LEADS, fake_slack.response_url(), user="U0ASKER01"))
    (opened,) = fake_slack.calls_to("conversations.open")
    assert opened.params["users"] == "U0ASKER01"
    (dm,) = fake_slack.calls_to("chat.postMessage")
    assert dm.params["channel"] == "D0ASKER01", "the DM the fake opened, never the channel"
    assert "Only you can see this" in str(dm.params["blocks"])


def test_if_nothing_private_works_nothing_is_posted(app, fake_slack):
    def fault(method, params, attempt):
        if method in ("chat.postEphemeral", "conversations.open"):
            return 200, {}, {"ok": False, "error": "channel_not_found"}
        return None

    fake_slack.fault = fault
    assert dispatch_interaction(app, message_action(LEADS, fake_slack.response_url())).status == 200
    assert fake_slack.calls_to("chat.postMessage") == []


def test_a_message_without_text_gets_a_short_private_note(app, fake_slack):
    dispatch_interaction(app, message_action("", fake_slack.response_url()))
    (call,) = fake_slack.calls_to("chat.postEphemeral")
    assert "no text I can read" in call.params["text"]
    assert fake_slack.calls_to("chat.postMessage") == []


# ---- end to end through the real server ----------------------------------------------------------
def test_shortcut_end_to_end_is_private(web, slack_api):
    payload = message_action(
        "marketing changed the pricing page and killed my renewal discount", slack_api.response_url()
    )
    reply = post_signed_interaction(web.events_url, payload)
    assert reply.status == 200
    assert reply.seconds < 3
    (call,) = slack_api.wait_for("chat.postEphemeral")
    assert call.params["user"] == "U0AE00001"
    assert "pricing" in call.params["text"].lower()
    time.sleep(0.3)
    assert slack_api.calls_to("chat.postMessage") == []
    assert len(slack_api.calls_to("chat.postEphemeral")) == 1


def test_shortcut_end_to_end_falls_back_to_a_dm(web, slack_api):
    slack_api.fault = refuse("chat.postEphemeral", "channel_not_found")
    payload = message_action(LEADS, slack_api.response_url(), channel="C0NOTJOINED", user="U0AE00007")
    assert post_signed_interaction(web.events_url, payload).status == 200
    (dm,) = slack_api.wait_for("chat.postMessage")
    assert dm.params["channel"] == "D0AE00007"
    time.sleep(0.3)
    posts = slack_api.calls_to("chat.postMessage")
    assert len(posts) == 1
    assert all(p.params["channel"] != "C0NOTJOINED" for p in posts)
