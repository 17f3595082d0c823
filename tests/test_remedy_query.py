"""What `/remedy <text>` is asking for: help, one cause by name, or a situation to classify."""

from __future__ import annotations

import pytest

from bot.services.remedy import QueryKind, interpret, match_cause
from model.playbook import load_playbook


@pytest.fixture(scope="module")
def playbook():
    return load_playbook()


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "?", "help?", "list"])
def test_empty_and_help_show_the_help_card(playbook, text):
    assert interpret(text, playbook).kind is QueryKind.HELP


@pytest.mark.parametrize(
    "text, cause_id",
    [
        ("blame", "blame_game"),
        ("leads", "lead_quality"),
        ("Leads", "lead_quality"),
        ("pricing", "pricing_dispute"),
        ("roles", "role_confusion"),
        ("budget fight", "budget_competition"),
        ("lead_quality", "lead_quality"),  # the id
        ("credit dispute", "credit_dispute"),  # the id, spaced
        ("Who owns what", "role_confusion"),  # the title
        ("Lead quality and hand-off", "lead_quality"),  # a long title is still a lookup
        ("who owns", "role_confusion"),  # an alias of two words
        ("junk leads", "lead_quality"),
        ("RACI", "role_confusion"),
    ],
)
def test_a_cause_is_found_by_id_title_or_alias(playbook, text, cause_id):
    query = interpret(text, playbook)
    assert query.kind is QueryKind.CAUSE
    assert query.cause.id == cause_id


@pytest.mark.parametrize(
    "text, cause_id",
    [
        ("budgte fight", "budget_competition"),
        ("pricng", "pricing_dispute"),
        ("leeds", "lead_quality"),
        ("atribution", "credit_dispute"),
        ("blam game", "blame_game"),
    ],
)
def test_a_close_spelling_finds_the_cause(playbook, text, cause_id):
    assert match_cause(text, playbook).id == cause_id


@pytest.mark.parametrize(
    "text",
    [
        "we keep fighting over who gets credit for the Acme deal",
        "junk leads again and again from the webinar",
        "marketing",  # names both teams, not a cause
        "sales vs marketing",
        "the",
        "🙂",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "x" * 40_000,
    ],
)
def test_anything_else_is_a_situation_to_classify(playbook, text):
    query = interpret(text, playbook)
    assert query.kind is QueryKind.TEXT
    assert query.cause is None


def test_slack_escaping_is_undone_before_matching(playbook):
    query = interpret("pricing &amp; discounts", playbook)
    assert query.kind is QueryKind.CAUSE
    assert query.cause.id == "pricing_dispute"
    assert interpret("a &lt;b&gt; c", playbook).text == "a <b> c"
