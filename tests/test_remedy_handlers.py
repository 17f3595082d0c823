"""/remedy and playbook buttons at the handler tier: failures get a short friendly answer, counts only."""

from __future__ import annotations

from bot import ids
from bot.storage.models import DiagnosisEvent
from bot.views.validate import message_problems
from tests.remedy_payloads import all_stored_text, body_json, dispatch_form, dispatch_interaction
from tests.slack import block_action, slash_command

SITUATION = "we keep fighting over who gets credit for the Acme deal"


def remedy(app, fake, text: str):
    return dispatch_form(app, slash_command("/remedy", text, fake.response_url()))


def test_a_lookup_is_answered_in_the_ack_and_counts_nothing(app, fake_slack, deps):
    card = body_json(remedy(app, fake_slack, "leads"))
    assert card["response_type"] == "ephemeral"
    assert "Lead quality" in card["text"]
    assert fake_slack.calls_to("response_url") == []
    with deps.sessions() as session:
        assert session.query(DiagnosisEvent).count() == 0


def test_a_situation_is_counted_without_its_text(app, fake_slack, deps):
    assert remedy(app, fake_slack, SITUATION).body == ""
    (answer,) = fake_slack.calls_to("response_url")
    assert "credit" in answer.params["text"].lower()
    with deps.sessions() as session:
        (event,) = session.query(DiagnosisEvent).all()
    assert (event.label, event.surface, event.channel_id) == ("credit_dispute", "remedy", "C0SALESMKT")
    assert "Acme" not in all_stored_text(deps.sessions)


def test_a_situation_asked_in_a_dm_is_counted_without_a_channel(app, fake_slack, deps):
    command = slash_command("/remedy", SITUATION, fake_slack.response_url(), channel="D0PAT00001")
    dispatch_form(app, command | {"channel_name": "directmessage"})
    assert "credit" in fake_slack.calls_to("response_url")[0].params["text"].lower()
    with deps.sessions() as session:
        (event,) = session.query(DiagnosisEvent).all()
    assert (event.label, event.channel_id) == ("credit_dispute", None)
    assert "D0PAT00001" not in all_stored_text(deps.sessions)


def test_a_classifier_failure_gets_a_friendly_answer(app, fake_slack, deps, monkeypatch):
    def broken(text):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(deps.classifier, "predict", broken)
    assert remedy(app, fake_slack, SITUATION).status == 200
    (answer,) = fake_slack.calls_to("response_url")
    assert "something went wrong" in answer.params["text"]
    assert "exploded" not in str(answer.params)


def test_a_counting_failure_does_not_hide_the_answer(app, fake_slack, deps, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(deps.repo, "record_diagnosis", broken)
    remedy(app, fake_slack, SITUATION)
    (answer,) = fake_slack.calls_to("response_url")
    assert "Who gets the credit" in str(answer.params["blocks"])


def test_when_sharing_fails_the_clicker_is_told(app, fake_slack):
    fake_slack.fault = lambda method, params, attempt: (
        (500, {}, {"ok": False})
        if method == "response_url" and params.get("response_type") == "in_channel"
        else None
    )
    action = {"type": "button", "action_id": ids.REMEDY_SHARE, "value": "lead_quality"}
    assert dispatch_interaction(app, block_action(action, fake_slack.response_url())).status == 200
    (told,) = fake_slack.calls_to("response_url")
    assert told.params["response_type"] == "ephemeral"
    assert "went wrong" in told.params["text"]


def test_an_unknown_cause_button_is_answered_kindly(app, fake_slack):
    action = {
        "type": "button",
        "action_id": f"{ids.CAUSE_OPEN_PREFIX}retired_cause",
        "value": "retired_cause",
    }
    dispatch_interaction(app, block_action(action, fake_slack.response_url()))
    (answer,) = fake_slack.calls_to("response_url")
    assert "don't know that cause" in answer.params["text"]
    assert message_problems(answer.params) == []
    action = {"type": "button", "action_id": ids.REMEDY_SHARE, "value": "retired_cause"}
    dispatch_interaction(app, block_action(action, fake_slack.response_url()))
    assert all(c.params["response_type"] == "ephemeral" for c in fake_slack.calls_to("response_url"))
