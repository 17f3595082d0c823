"""/remedy end to end: signed slash commands and button clicks against the real `web` process."""

from __future__ import annotations

import time

import pytest

from bot import ids
from bot.views.validate import message_problems
from tests.slack import block_action, post_signed_form, post_signed_interaction, slash_command


def remedy(web, slack_api, text: str, name: str = "r1"):
    reply = post_signed_form(web.events_url, slash_command("/remedy", text, slack_api.response_url(name)))
    assert reply.status == 200
    assert reply.seconds < 3, "Slack gives up after 3 seconds"
    return reply


def responded(slack_api, count: int = 1) -> list[dict]:
    calls = slack_api.wait_for("response_url", count, timeout=10)
    return [c.params for c in calls]


def section_text(card: dict) -> str:
    parts = []
    for block in card["blocks"]:
        if block.get("text"):
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            if element.get("text") and isinstance(element["text"], str):
                parts.append(element["text"])
    return "\n".join(parts)


def buttons(card: dict) -> list[dict]:
    found = []
    for block in card["blocks"]:
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
        found += [e for e in block.get("elements", []) if e.get("type") == "button"]
    return found


def nothing_posted_publicly(slack_api) -> bool:
    return slack_api.calls_to("chat.postMessage") == [] and all(
        c.params.get("response_type") != "in_channel" for c in slack_api.calls_to("response_url")
    )


@pytest.mark.parametrize("text", ["", "help"])
def test_help_lists_every_cause_only_to_the_asker(web, slack_api, text):
    card = remedy(web, slack_api, text).json()
    assert card.get("response_type", "ephemeral") == "ephemeral"
    assert message_problems(card) == []
    assert "Truce" in section_text(card)
    opens = [b for b in buttons(card) if b["action_id"].startswith(ids.CAUSE_OPEN_PREFIX)]
    assert len(opens) == 13
    assert any(b["action_id"] == ids.REMEDY_SHARE for b in buttons(card))
    time.sleep(0.2)
    assert nothing_posted_publicly(slack_api)


@pytest.mark.parametrize(
    "text, title",
    [
        ("leads", "Lead quality and hand-off"),
        ("blame", "Blame game after a miss"),
        ("pricing", "Pricing and discounts"),
        ("roles", "Who owns what"),
        ("budget fight", "Fighting over budget"),
        ("budgte fight", "Fighting over budget"),
    ],
)
def test_a_cause_by_alias_or_close_spelling_shows_its_card(web, slack_api, text, title):
    card = remedy(web, slack_api, text).json()
    assert card.get("response_type", "ephemeral") == "ephemeral"
    assert message_problems(card) == []
    assert card["blocks"][0]["type"] == "header" and title in card["blocks"][0]["text"]["text"]
    text_shown = section_text(card)
    assert "Why it happens" in text_shown
    assert "From the leaders' answer" in text_shown
    assert "What to do about it" in text_shown
    assert [b["value"] for b in buttons(card) if b["action_id"] == ids.REMEDY_SHARE] != []


def test_a_situation_is_classified_and_answered_through_the_response_url(web, slack_api):
    reply = remedy(web, slack_api, "we keep fighting over who gets credit for the Acme deal")
    assert reply.body == "", "acknowledged at once; the answer follows"
    (card,) = responded(slack_api)
    assert card["response_type"] == "ephemeral"
    assert card.get("replace_original") in (False, None)
    assert message_problems(card) == []
    shown = section_text(card)
    assert "Who gets the credit" in shown
    assert "Could also be" in shown
    action_ids = [b["action_id"] for b in buttons(card)]
    assert ids.FEEDBACK_HELPFUL in action_ids and ids.FEEDBACK_NOT_QUITE in action_ids
    time.sleep(0.2)
    assert len(slack_api.calls_to("response_url")) == 1
    assert nothing_posted_publicly(slack_api)


def test_when_nothing_fits_it_says_so_and_lists_the_causes(web, slack_api):
    assert remedy(web, slack_api, "happy birthday Anna! cake in the kitchen at three").body == ""
    (card,) = responded(slack_api)
    assert message_problems(card) == []
    assert "don't recognise" in card["text"]
    assert len([b for b in buttons(card) if b["action_id"].startswith(ids.CAUSE_OPEN_PREFIX)]) == 13


@pytest.mark.parametrize(
    "text",
    [
        "&lt;script&gt;alert(1)&lt;/script&gt; leads &amp; junk",
        "x" * 40_000,
        "our leads are 🗑️🗑️🗑️ and nobody calls them 😤",
        "Маркетинг снова прислал нам мусорные лиды",
        "营销团队给的线索质量太差了",
        "   \t  ",
        "<@U0AE00002> <!here> <#C0OTHER01|general>",
    ],
)
def test_unusual_text_gets_a_proper_answer(web, slack_api, text):
    reply = remedy(web, slack_api, text)
    if reply.body:
        card = reply.json()
    else:
        (card,) = responded(slack_api)
    assert message_problems(card) == []
    assert card["text"].strip()
    assert "Traceback" not in str(card) and "went wrong" not in card["text"]
    logs = web.logs()
    assert "Traceback" not in logs and "could not" not in logs


def test_share_in_channel_posts_the_card_publicly_once(web, slack_api):
    card = remedy(web, slack_api, "leads").json()
    share = next(b for b in buttons(card) if b["action_id"] == ids.REMEDY_SHARE)
    action = {"type": "button", "action_id": ids.REMEDY_SHARE, "value": share["value"], "block_id": "s1"}
    reply = post_signed_interaction(web.events_url, block_action(action, slack_api.response_url("share")))
    assert reply.status == 200
    (public,) = responded(slack_api)
    assert public["response_type"] == "in_channel"
    assert public.get("replace_original") is False
    assert message_problems(public) == []
    assert "Lead quality and hand-off" in public["blocks"][0]["text"]["text"]
    assert "Shared by <@U0AE00001>" in section_text(public)
    assert not any(b["action_id"] == ids.REMEDY_SHARE for b in buttons(public))
    # Anyone in the channel can pick one of the shared remedies to try.
    tries = [b for b in buttons(public) if b["action_id"].startswith(ids.TRY_REMEDY_PREFIX)]
    assert tries and all(b["text"]["text"].startswith("Try") for b in tries)
    time.sleep(0.3)
    assert len(slack_api.calls_to("response_url")) == 1


def test_sharing_a_diagnosis_posts_the_playbook_card_not_the_words(web, slack_api):
    secret = "Dana from marketing botched the Acme credit split again"
    remedy(web, slack_api, secret)
    (card,) = responded(slack_api)
    share = next(b for b in buttons(card) if b["action_id"] == ids.REMEDY_SHARE)
    slack_api.reset()
    action = {"type": "button", "action_id": ids.REMEDY_SHARE, "value": share["value"], "block_id": "s1"}
    post_signed_interaction(web.events_url, block_action(action, slack_api.response_url("share")))
    (public,) = responded(slack_api)
    assert public["response_type"] == "in_channel"
    assert "Dana" not in str(public) and "Acme" not in str(public)


def test_sharing_the_help_card(web, slack_api):
    action = {"type": "button", "action_id": ids.REMEDY_SHARE, "value": "help", "block_id": "s1"}
    post_signed_interaction(web.events_url, block_action(action, slack_api.response_url("share")))
    (public,) = responded(slack_api)
    assert public["response_type"] == "in_channel"
    assert message_problems(public) == []
    assert "13 causes" in public["text"]


def test_opening_a_cause_from_a_card_answers_only_the_clicker(web, slack_api):
    action = {
        "type": "button",
        "action_id": f"{ids.CAUSE_OPEN_PREFIX}credit_dispute",
        "value": "credit_dispute",
    }
    post_signed_interaction(web.events_url, block_action(action, slack_api.response_url("open")))
    (card,) = responded(slack_api)
    assert card["response_type"] == "ephemeral"
    assert card.get("replace_original") is False
    assert "Who gets the credit" in card["blocks"][0]["text"]["text"]
    assert message_problems(card) == []
