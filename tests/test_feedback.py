"""Helpful / Not quite: thanks, counts, corrections stored only when submitted, exported, retrained on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from bot import ids
from bot.services.feedback import export_corrections
from bot.storage.db import connect
from bot.storage.models import Correction, Feedback
from bot.storage.repository import Repository
from bot.views.diagnosis import decode_feedback, encode_feedback
from bot.views.validate import message_problems, view_problems
from model.dataset import read_jsonl
from tests.conftest import ROOT, wait_until
from tests.remedy_payloads import (
    all_stored_text,
    body_json,
    dispatch_event,
    dispatch_form,
    dispatch_interaction,
    message_action,
    selected,
    view_submission,
)
from tests.slack import (
    block_action,
    mention_event,
    post_signed_form,
    post_signed_interaction,
    post_signed_json,
    slash_command,
)

TEXT = "we keep fighting over who gets credit for the Acme deal"
ASKER = "U0AE00001"  # the default clicker and submitter of tests.slack / tests.remedy_payloads
OTHER = "U0AE00009"


def click(action_id: str, value: str) -> dict:
    return {"type": "button", "action_id": action_id, "value": value, "block_id": "feedback"}


def pick(view: dict, label: str) -> dict:
    return view_submission(view, selected(ids.CORRECTION_BLOCK, ids.CORRECTION_SELECT, label))


# ---- handler tier --------------------------------------------------------------------------------
def test_helpful_thanks_the_clicker_privately_and_counts(app, fake_slack, deps):
    value = encode_feedback("credit_dispute", "mention", TEXT)
    dispatch_interaction(app, block_action(click(ids.FEEDBACK_HELPFUL, value), fake_slack.response_url()))
    (thanks,) = fake_slack.calls_to("response_url")
    assert thanks.params["response_type"] == "ephemeral"
    assert thanks.params["replace_original"] is False
    assert "Thanks" in thanks.params["text"]
    with deps.sessions() as session:
        rows = session.scalars(select(Feedback)).all()
        assert [(r.label, r.helpful) for r in rows] == [("credit_dispute", True)]
        assert session.scalars(select(Correction)).all() == []
    assert TEXT not in all_stored_text(deps.sessions)


def test_not_quite_opens_a_private_picker_and_stores_nothing_yet(app, fake_slack, deps):
    value = encode_feedback("credit_dispute", "mention", TEXT)
    dispatch_interaction(app, block_action(click(ids.FEEDBACK_NOT_QUITE, value), fake_slack.response_url()))
    (opened,) = fake_slack.calls_to("views.open")
    view = opened.params["view"]
    assert view_problems(view) == []
    select_el = next(b for b in view["blocks"] if b["type"] == "input")["element"]
    assert select_el["type"] == "static_select"
    assert [o["text"]["text"] for o in select_el["options"]][-1] == "No friction here"
    assert len(select_el["options"]) == 14
    assert fake_slack.calls_to("chat.postMessage") == []
    assert TEXT not in all_stored_text(deps.sessions)


def test_picking_the_right_cause_stores_one_correction_and_thanks(app, fake_slack, deps):
    value = encode_feedback("credit_dispute", "shortcut", TEXT, asker=ASKER)
    dispatch_interaction(app, block_action(click(ids.FEEDBACK_NOT_QUITE, value), fake_slack.response_url()))
    view = fake_slack.calls_to("views.open")[0].params["view"]
    response = dispatch_interaction(app, pick(view, "role_confusion"))
    ack = body_json(response)
    assert ack["response_action"] == "update"
    assert "Thanks" in str(ack["view"]["blocks"]) and "who owns what" in str(ack["view"]["blocks"])
    assert view_problems(ack["view"]) == []
    (row,) = Repository(deps.sessions).corrections()
    assert (row.text, row.predicted, row.label, row.surface) == (
        TEXT,
        "credit_dispute",
        "role_confusion",
        "shortcut",
    )
    assert row.model_version == deps.classifier.version


def test_no_friction_is_a_valid_correction(app, fake_slack, deps):
    value = encode_feedback("pricing_dispute", "remedy", "lunch at noon? pizza again", asker=ASKER)
    dispatch_interaction(app, block_action(click(ids.FEEDBACK_NOT_QUITE, value), fake_slack.response_url()))
    view = fake_slack.calls_to("views.open")[0].params["view"]
    dispatch_interaction(app, pick(view, "none"))
    (row,) = Repository(deps.sessions).corrections()
    assert row.label == "none"


def test_a_forged_label_is_refused_in_the_modal(app, fake_slack, deps):
    value = encode_feedback("pricing_dispute", "remedy", TEXT)
    dispatch_interaction(app, block_action(click(ids.FEEDBACK_NOT_QUITE, value), fake_slack.response_url()))
    view = fake_slack.calls_to("views.open")[0].params["view"]
    ack = body_json(dispatch_interaction(app, pick(view, "drop_tables")))
    assert ack["response_action"] == "errors"
    assert Repository(deps.sessions).corrections() == []


def test_a_database_failure_asks_to_try_again(app, fake_slack, deps, monkeypatch):
    value = encode_feedback("credit_dispute", "mention", TEXT)
    dispatch_interaction(app, block_action(click(ids.FEEDBACK_NOT_QUITE, value), fake_slack.response_url()))
    view = fake_slack.calls_to("views.open")[0].params["view"]

    def broken(*args, **kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(deps.repo, "add_correction", broken)
    ack = body_json(dispatch_interaction(app, pick(view, "role_confusion")))
    assert ack["response_action"] == "errors"
    assert "couldn't save" in ack["errors"][ids.CORRECTION_BLOCK]
    assert "Traceback" not in json.dumps(ack)


def test_export_writes_json_lines_the_trainer_reads(deps, tmp_path):
    deps.repo.add_correction(TEXT, "credit_dispute", "role_confusion", "mention", "1.0+abc")
    deps.repo.add_correction("lunch?", "pricing_dispute", "none", "remedy", "1.0+abc")
    out = tmp_path / "feedback.jsonl"
    assert export_corrections(deps.repo, out) == 2
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records[0]["text"] == TEXT
    assert records[0]["label"] == "role_confusion"
    assert records[0]["source"] == "feedback:mention"
    assert records[0]["predicted"] == "credit_dispute"
    assert records[0]["model_version"] == "1.0+abc"
    assert records[0]["created_at"]
    examples = read_jsonl(out)
    assert [(e.text, e.label) for e in examples] == [(TEXT, "role_confusion"), ("lunch?", "none")]


def test_export_to_stdout(deps, capsys):
    deps.repo.add_correction(TEXT, "credit_dispute", "role_confusion", "mention", "v")
    assert export_corrections(deps.repo, "-") == 1
    assert json.loads(capsys.readouterr().out)["label"] == "role_confusion"


# ---- whose words may be kept, and who counts as helpful -------------------------------------------
def mention_reply_value(app, fake_slack, author: str) -> str:
    """@Truce as `author`: the value of the feedback buttons on Truce's reply."""
    dispatch_event(app, mention_event(TEXT, user=author))
    (posted,) = fake_slack.calls_to("chat.postMessage")
    block = next(b for b in posted.params["blocks"] if b.get("block_id") == "feedback")
    fake_slack.reset()
    return block["elements"][1]["value"]


def test_someone_elses_not_quite_counts_a_label_but_keeps_no_text(app, fake_slack, deps):
    value = mention_reply_value(app, fake_slack, author=ASKER)
    response_url = fake_slack.response_url()
    dispatch_interaction(app, block_action(click(ids.FEEDBACK_NOT_QUITE, value), response_url, user=OTHER))
    view = fake_slack.calls_to("views.open")[0].params["view"]
    assert TEXT not in json.dumps(view)  # no preview, nothing to carry back
    assert "only the person who asked" in json.dumps(view).lower()
    ack = body_json(dispatch_interaction(app, pick(view, "role_confusion") | {"user": {"id": OTHER}}))
    assert ack["response_action"] == "update" and "learns from" not in str(ack["view"])
    (row,) = Repository(deps.sessions).corrections()
    assert (row.text, row.predicted, row.label) == ("", "credit_dispute", "role_confusion")
    assert TEXT not in all_stored_text(deps.sessions)


def test_the_asker_of_a_mention_can_save_its_text(app, fake_slack, deps):
    value = mention_reply_value(app, fake_slack, author=ASKER)
    dispatch_interaction(app, block_action(click(ids.FEEDBACK_NOT_QUITE, value), fake_slack.response_url()))
    view = fake_slack.calls_to("views.open")[0].params["view"]
    dispatch_interaction(app, pick(view, "role_confusion"))
    (row,) = Repository(deps.sessions).corrections()
    assert row.text == TEXT and row.label == "role_confusion"


def test_text_is_not_kept_when_the_saver_is_not_the_asker_whatever_the_modal_carries(app, fake_slack, deps):
    value = encode_feedback("credit_dispute", "mention", TEXT, asker=ASKER)
    dispatch_interaction(app, block_action(click(ids.FEEDBACK_NOT_QUITE, value), fake_slack.response_url()))
    view = fake_slack.calls_to("views.open")[0].params["view"]  # opened for the asker, with the text
    dispatch_interaction(
        app, view_submission(view, pick(view, "none")["view"]["state"]["values"], user=OTHER)
    )
    (row,) = Repository(deps.sessions).corrections()
    assert (row.text, row.label) == ("", "none")


@pytest.mark.parametrize("surface", ["mention", "shortcut", "remedy"])
def test_the_buttons_know_who_asked_truce(app, fake_slack, surface):
    if surface == "mention":
        dispatch_event(app, mention_event(TEXT, user=ASKER))
        (reply,) = fake_slack.calls_to("chat.postMessage")
    elif surface == "shortcut":  # the person using the shortcut, not the message's author
        dispatch_interaction(app, message_action(TEXT, fake_slack.response_url(), user=ASKER, author=OTHER))
        (reply,) = fake_slack.calls_to("chat.postEphemeral")
    else:
        dispatch_form(app, slash_command("/remedy", TEXT, fake_slack.response_url(), user=ASKER))
        (reply,) = fake_slack.calls_to("response_url")
    (block,) = [b for b in reply.params["blocks"] if b.get("block_id") == "feedback"]
    assert {decode_feedback(e["value"])["asker"] for e in block["elements"]} == {ASKER}


def test_helpful_counts_once_per_person_per_reply_and_keeps_no_user(app, fake_slack, deps):
    value = encode_feedback("credit_dispute", "mention", TEXT, asker=ASKER)
    reply_ts, other_reply_ts = "1700000000.000100", "1700000000.000200"

    def helpful(user: str, ts: str) -> str:
        fake_slack.reset()
        payload = block_action(
            click(ids.FEEDBACK_HELPFUL, value), fake_slack.response_url(), user=user, message_ts=ts
        )
        dispatch_interaction(app, payload)
        (thanks,) = fake_slack.calls_to("response_url")
        return thanks.params["text"]

    assert "Thanks" in helpful(ASKER, reply_ts)
    assert "already" in helpful(ASKER, reply_ts)  # the same person, the same reply: not counted again
    helpful(OTHER, reply_ts)
    helpful(ASKER, other_reply_ts)
    with deps.sessions() as session:
        assert [r.helpful for r in session.scalars(select(Feedback))] == [True, True, True]
    stored = all_stored_text(deps.sessions)
    assert ASKER not in stored and OTHER not in stored and reply_ts not in stored


# ---- end to end: signed requests, the CLI, and retraining ----------------------------------------
def run_cli(args: list[str], db_url: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TRUCE_", "DATABASE_URL"))}
    env.update(DATABASE_URL=db_url, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_no_message_text_is_stored_without_a_correction(web, slack_api):
    marker = "zebrafish"
    mention = f"the {marker} leads from the webinar are junk again"
    assert post_signed_json(web.events_url, mention_event(mention)).status == 200
    slack_api.wait_for("chat.postMessage")
    shortcut = f"{marker} marketing changed the pricing page without telling us"
    post_signed_interaction(web.events_url, message_action(shortcut, slack_api.response_url("s")))
    slack_api.wait_for("chat.postEphemeral")
    remedy = f"we keep fighting over who gets {marker} credit for the Acme deal"
    post_signed_form(web.events_url, slash_command("/remedy", remedy, slack_api.response_url("r")))
    slack_api.wait_for("response_url")
    # Helpful and opening (then abandoning) the picker keep nothing either.
    value = encode_feedback("lead_quality", "mention", mention)
    post_signed_interaction(
        web.events_url, block_action(click(ids.FEEDBACK_HELPFUL, value), slack_api.response_url("h"))
    )
    post_signed_interaction(
        web.events_url, block_action(click(ids.FEEDBACK_NOT_QUITE, value), slack_api.response_url("n"))
    )
    slack_api.wait_for("views.open")
    time.sleep(0.5)
    sessions = connect(web.db_url)
    # The answer process writes the mention's count a moment after its reply (counts_behind.py).
    wait_until(lambda: "mention" in all_stored_text(sessions))
    stored = all_stored_text(sessions)
    assert "mention" in stored and "shortcut" in stored and "remedy" in stored, "the counts were recorded"
    assert marker not in stored
    assert marker not in web.logs()


def test_a_correction_is_stored_exported_and_trained_on(web, slack_api, tmp_path):
    text = "our quarterly planning turned into a turf war about who runs the webinars"
    value = encode_feedback("budget_competition", "mention", text, asker=ASKER)
    reply = post_signed_interaction(
        web.events_url, block_action(click(ids.FEEDBACK_NOT_QUITE, value), slack_api.response_url("n"))
    )
    assert reply.status == 200
    (opened,) = slack_api.wait_for("views.open")
    view = opened.params["view"]
    reply = post_signed_interaction(web.events_url, pick(view, "role_confusion"))
    assert reply.status == 200 and reply.seconds < 3
    assert reply.json()["response_action"] == "update"
    assert "Thanks" in str(reply.json()["view"])

    rows = Repository(connect(web.db_url)).corrections()
    assert [(r.text, r.predicted, r.label) for r in rows] == [(text, "budget_competition", "role_confusion")]

    out = tmp_path / "feedback.jsonl"
    done = run_cli(["-m", "bot", "feedback", "export", "--out", str(out)], web.db_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "exported 1 corrections" in done.stderr
    (record,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert (record["text"], record["label"], record["source"]) == (text, "role_confusion", "feedback:mention")

    model = tmp_path / "model" / "classifier.npz"
    trained = run_cli(
        ["-m", "model", "train", "--with-feedback", str(out), "--out", str(model)], web.db_url, tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    assert "including 1 corrections" in trained.stderr
    sidecar = json.loads(model.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["n_feedback"] == 1


@pytest.mark.parametrize("surface_text", ["x" * 40_000, "🙂 ласкаво &lt;b&gt; 营销"])
def test_long_and_unusual_text_survives_the_round_trip(app, fake_slack, deps, surface_text):
    value = encode_feedback("lead_quality", "mention", surface_text, asker=ASKER)
    dispatch_interaction(app, block_action(click(ids.FEEDBACK_NOT_QUITE, value), fake_slack.response_url()))
    view = fake_slack.calls_to("views.open")[0].params["view"]
    assert message_problems({"text": "t", "blocks": view["blocks"]}) == []
    dispatch_interaction(app, pick(view, "lead_quality"))
    (row,) = Repository(deps.sessions).corrections()
    assert row.text and surface_text.startswith(row.text)
