"""Every card Truce builds is valid Block Kit within Slack's limits, and the checker catches breaches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import ids
from bot.services.diagnose import Diagnoser, Finding, Verdict
from bot.storage.repository import TrendPoint
from bot.views import feedback as feedback_views
from bot.views import home, remedy
from bot.views.blocks import actions, button, header, section
from bot.views.diagnosis import decode_feedback, diagnosis_message
from bot.views.validate import message_problems, view_problems
from model.playbook import load_playbook

HOSTILE_TEXTS = [
    "the leads from the webinar were junk again",
    "we keep fighting over who gets credit for the Acme deal",
    "&lt;script&gt;alert('x')&lt;/script&gt; &amp; <@U0AE00002> <!channel> <https://evil.example|click>",
    "🔥🔥🔥 marketing 🙄 ласкаво просимо 营销团队总是 ليس لدينا عملاء محتملين",
    "*bold* _italic_ ~strike~ `code` ```block``` > quote",
    "x" * 40_000,
    "leads " * 8_000,
    "\u200b\u200b\u200b",
    "?",
]


@pytest.fixture(scope="module")
def playbook():
    return load_playbook()


@pytest.fixture
def diagnoser(classifier, playbook):
    return Diagnoser(classifier, playbook)


# ---- the checker itself must be able to fail ------------------------------------------------------
def test_the_checker_flags_each_limit():
    too_many = {"text": "t", "blocks": [section(f"s{i}") for i in range(51)]}
    assert any("51 blocks" in p for p in message_problems(too_many))
    long_text = {"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3001}}]}
    assert any("3001" in p for p in message_problems(long_text))
    long_header = {
        "text": "t",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    }
    assert message_problems(long_header)
    long_button = {
        "text": "t",
        "blocks": [
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "action_id": "a"}
                ],
            }
        ],
    }
    assert message_problems(long_button)
    big_value = {"text": "t", "blocks": [actions({**button("ok", "a"), "value": "v" * 2001})]}
    assert message_problems(big_value)
    dup_ids = {"text": "t", "blocks": [{**section("a"), "block_id": "x"}, {**section("b"), "block_id": "x"}]}
    assert any("duplicate block_id" in p for p in message_problems(dup_ids))
    too_many_options = {
        "type": "home",
        "blocks": [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "static_select",
                        "action_id": "s",
                        "options": [
                            {"text": {"type": "plain_text", "text": str(i)}, "value": str(i)}
                            for i in range(101)
                        ],
                    }
                ],
            }
        ],
    }
    assert any("101 options" in p for p in view_problems(too_many_options))
    assert view_problems({"type": "home", "blocks": [section("x")] * 101})
    assert message_problems({"blocks": [header("no fallback text")]})
    long_title = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "t" * 25},
        "blocks": [section("x")],
    }
    assert view_problems(long_title)


def test_a_valid_message_has_no_problems():
    assert message_problems({"text": "hi", "blocks": [header("Hello"), section("world")]}) == []


# ---- /remedy cards ------------------------------------------------------------------------------
def test_help_card_is_valid_and_opens_every_cause(playbook):
    card = remedy.help_message(playbook)
    assert message_problems(card) == []
    opened = {
        e["action_id"]
        for b in card["blocks"]
        for e in ([b["accessory"]] if b.get("accessory") else b.get("elements", []))
        if e.get("type") == "button"
    }
    assert {f"{ids.CAUSE_OPEN_PREFIX}{c.id}" for c in playbook.causes} <= opened
    assert ids.REMEDY_SHARE in opened
    assert message_problems(remedy.shared_help_message(playbook, "U1")) == []


def test_every_cause_card_is_valid_and_complete(playbook):
    for cause in playbook.causes:
        card = remedy.cause_message(cause)
        assert message_problems(card) == [], cause.id
        text = "\n".join(b.get("text", {}).get("text", "") for b in card["blocks"] if b["type"] == "section")
        assert "Why it happens" in text
        assert cause.remedies[0].title in text
        if cause.template:
            assert "Template" in text
            assert "<" not in text.split("Template", 1)[1].replace("<@", ""), (
                "template placeholders are escaped"
            )
        shared = remedy.shared_cause_message(cause, "U0AE00001")
        assert message_problems(shared) == []
        shared_ids = [
            e["action_id"] for b in shared["blocks"] if b["type"] == "actions" for e in b["elements"]
        ]
        assert ids.REMEDY_SHARE not in shared_ids, "no Share button on the public card"
        assert len(shared_ids) == len(cause.remedies)  # a Try button per remedy
        assert view_problems(remedy.cause_modal(cause)) == []


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_free_text_results_are_valid_for_any_input(diagnoser, playbook, text):
    finding = diagnoser.diagnose(text)
    for card in (
        remedy.diagnosis_result_message(finding, playbook),
        diagnosis_message(finding, playbook, surface="mention"),
        remedy.private_reply(diagnosis_message(finding, playbook, surface="shortcut")),
    ):
        assert message_problems(card) == []


def test_free_text_result_shows_the_best_cause_and_the_runner_up(diagnoser, playbook):
    finding = diagnoser.diagnose("we keep fighting over who gets credit for the Acme deal")
    card = remedy.diagnosis_result_message(finding, playbook)
    rendered = str(card["blocks"])
    assert finding.cause.title in rendered
    assert "Could also be" in rendered
    share = next(
        e
        for b in card["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.REMEDY_SHARE
    )
    assert share["value"] == finding.cause.id, "sharing rebuilds the card from the playbook, not the text"
    helpful = next(
        e
        for b in card["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.FEEDBACK_HELPFUL
    )
    assert decode_feedback(helpful["value"])["surface"] == "remedy"


def test_nothing_fits_says_so_and_lists_the_causes(diagnoser, playbook):
    finding = diagnoser.diagnose("happy birthday Anna! cake in the kitchen at three")
    card = remedy.diagnosis_result_message(finding, playbook)
    assert message_problems(card) == []
    assert "don't recognise" in card["text"]
    rendered = str(card["blocks"])
    assert all(c.title in rendered for c in playbook.causes)


def test_an_unsure_result_shows_the_two_closest_and_asks_for_more(classifier, playbook):
    diagnosis = classifier.predict("hmm")
    finding = Finding(
        Verdict.UNSURE, "hmm", diagnosis, None, (playbook["lead_quality"], playbook["credit_dispute"])
    )
    card = remedy.diagnosis_result_message(finding, playbook)
    assert message_problems(card) == []
    rendered = str(card["blocks"])
    assert "can't tell for sure" in rendered
    assert "Lead quality and hand-off" in rendered and "Who gets the credit" in rendered
    assert ids.FEEDBACK_NOT_QUITE in rendered


# ---- feedback views -------------------------------------------------------------------------------
@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_correction_modal_is_valid_and_carries_the_text(playbook, text):
    feedback = {"label": "lead_quality", "surface": "mention", "text": text}
    modal = feedback_views.correction_modal(feedback, playbook, "C0SALESMKT")
    assert view_problems(modal) == []
    meta = feedback_views.decode_metadata(modal["private_metadata"])
    assert meta["predicted"] == "lead_quality"
    assert text.startswith(meta["text"]) and meta["text"][:100] == text[:100]
    select = next(b for b in modal["blocks"] if b["type"] == "input")["element"]
    assert len(select["options"]) == len(playbook) + 1
    assert select["options"][-1]["value"] == "none"


def test_thanks_views_are_valid(playbook):
    for label in ("credit_dispute", "none"):
        assert view_problems(feedback_views.correction_thanks_view(label, playbook)) == []
    assert message_problems(feedback_views.helpful_thanks_message()) == []
    assert message_problems(feedback_views.feedback_failed_message()) == []


# ---- App Home -------------------------------------------------------------------------------------
class Setting:
    def __init__(self, channel_id, enabled=True, member=True):
        self.channel_id = channel_id
        self.enabled = enabled
        self.member = member
        self.weekday = 4
        self.time = "15:00"
        self.timezone = "Europe/Berlin"


def busy_data(channels: int = 150, weeks: int = 40) -> home.HomeData:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    trends = {
        f"C{n:08d}": [
            TrendPoint(f"2026-W{w:02d}", now - timedelta(weeks=weeks - w), 5 + w % 7, 1 + (n + w) % 40 / 10)
            for w in range(weeks)
        ]
        for n in range(channels)
    }
    counts = {c: 1000 + i for i, c in enumerate(load_playbook()._by_id)} | {"none": 77}
    mine = [Setting(f"C{n:08d}", enabled=n % 3 != 0, member=n % 10 != 0) for n in range(channels)]
    return home.HomeData(trends, counts, mine, frozenset(s.channel_id for s in mine))


def test_home_for_an_empty_workspace_is_valid(playbook):
    view = home.home_view(playbook, home.HomeData({}, {}, []))
    assert view_problems(view) == []
    text = str(view["blocks"])
    assert "No pulse results yet" in text
    assert "No diagnoses in your channels yet" in text
    assert all(c.title in text for c in playbook.causes)


def test_home_for_a_busy_workspace_stays_within_limits(playbook):
    data = busy_data()
    view = home.home_view(playbook, data)
    assert view_problems(view) == []
    text = str(view["blocks"])
    assert "more channels with pulse results" in text
    assert "Lead quality and hand-off" in text and "1011" in text
    assert "Truce is no longer in this channel" in text


def test_home_when_channels_could_not_be_listed(playbook):
    view = home.home_view(playbook, home.HomeData({}, {}, None))
    assert view_problems(view) == []
    assert "couldn't look up your channels" in str(view["blocks"])


def test_sparkline_uses_an_absolute_scale():
    assert home.sparkline([1, 3, 5]) == "▁▅█"
    assert home.sparkline([0, 9]) == "▁█"
    point = TrendPoint("2026-W01", datetime(2026, 1, 1, tzinfo=UTC), 5, 3.4)
    later = TrendPoint("2026-W02", datetime(2026, 1, 8, tzinfo=UTC), 6, 3.9)
    assert home.trend_line("C1", [point, later]) == "<#C1>  *3.9*  `▅▆`  3.4 → 3.9 (2 weeks)"
