"""Reading the conversation Truce is asked about: intents, what counts as a person's message, the
thread cache, evidence a person can read, and diagnosing a thread as a whole (no HTTP here)."""

from __future__ import annotations

import pytest

from bot.services.conversation import SlackMessage, ThreadCache, to_message
from bot.services.diagnose import Diagnoser, Said, Verdict
from bot.services.intent import Intent, classify_intent
from model.playbook import load_playbook
from model.text import to_plain

BOT_USER = "UTRUCE0001"
BOT_ID = "BTRUCE0001"


@pytest.fixture(scope="module")
def diagnoser(classifier):
    return Diagnoser(classifier, load_playbook())


@pytest.mark.parametrize(
    "text",
    [
        "help",
        "Help!",
        "help please",
        "what can you do?",
        "how does this work?",
        "How do I use this?",
        "hey, what do you do",
        "who are you?",
        "commands",
    ],
)
def test_help_questions_ask_for_help(text):
    assert classify_intent(text) is Intent.HELP


@pytest.mark.parametrize(
    "text",
    [
        "thoughts?",
        "can you help here?",
        "can you help us here? this thread is getting heated",
        "what do you make of the above?",
        "any ideas",
        "weigh in pls",
        "what should I do?",
        "👀",
        "?",
    ],
)
def test_bare_summons_carry_no_complaint(text):
    assert classify_intent(text) in (Intent.SUMMON, Intent.EMPTY)


@pytest.mark.parametrize(
    "text",
    [
        "the leads from the webinar were junk again and nobody in marketing will admit it",
        "marketing launched the new pricing page without telling a single rep, and now deals are stuck",
    ],
)
def test_complaints_are_read_as_messages(text):
    assert classify_intent(text) is Intent.MESSAGE


def test_only_peoples_messages_are_read():
    person = {"ts": "1.1", "user": "U1", "text": "the leads were junk"}
    assert to_message(person, BOT_USER, BOT_ID) == SlackMessage("1.1", "U1", "the leads were junk")
    assert to_message({**person, "bot_id": "BOTHER"}, BOT_USER, BOT_ID) is None
    assert to_message({**person, "subtype": "bot_message"}, BOT_USER, BOT_ID) is None
    assert to_message({**person, "subtype": "channel_join"}, BOT_USER, BOT_ID) is None
    assert to_message({**person, "subtype": "thread_broadcast"}, BOT_USER, BOT_ID) is not None
    assert to_message({**person, "text": "   "}, BOT_USER, BOT_ID) is None
    own = to_message(
        {
            "ts": "1.2",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": "…",
            "blocks": [
                {
                    "type": "actions",
                    "elements": [{"type": "button", "value": '{"l":"role_confusion","s":"mention"}'}],
                }
            ],
        },
        BOT_USER,
        BOT_ID,
    )
    assert own is not None and own.from_truce and own.truce_label == "role_confusion"


def test_a_thread_is_kept_for_a_minute_then_read_again():
    now = [1000.0]
    cache = ThreadCache(seconds=60, clock=lambda: now[0])
    cache.put(("T", "C", "1.0"), [{"ts": "1.0"}])
    now[0] += 59
    assert cache.get(("T", "C", "1.0")) == [{"ts": "1.0"}]
    now[0] += 2
    assert cache.get(("T", "C", "1.0")) is None


def test_slack_markup_reads_like_the_words_it_shows():
    shown = to_plain("<@U024BE7LH> <https://example.com/deck|the new deck> numbers don't match <#C1|pricing>")
    assert shown == "@someone the new deck numbers don't match #pricing"


FRAGMENTS = {"the mktg", "like", "think", "time we", "say the", "the", "we", "they", "just", "really"}

EVIDENCE_MESSAGES = [
    ("the leads from last week's webinar were junk again, half of them were students", "lead_quality"),
    ("I think the mktg team says the same thing every time we miss, like it's our fault", "blame_game"),
    ("reps give 30% off and marketing says it hurts positioning", "pricing_dispute"),
    (
        "nobody knows who owns the website copy, marketing thinks sales does and sales thinks marketing does",
        "role_confusion",
    ),
    (
        "we only found out about the launch from a customer, would be nice to be in the loop",
        "communication_gap",
    ),
    ("marketing celebrates impressions and clicks while we're measured on quota", "misaligned_goals"),
    ("they took the events budget to pay for more SDR headcount", "budget_competition"),
    (
        "our reps ignore the battlecards and build their own slides with a different story",
        "inconsistent_messaging",
    ),
    (
        "marketing claims they sourced the deal we closed, and now want the credit in the QBR",
        "credit_dispute",
    ),
    ("every time we say it's urgent they say it goes into next quarter's plan", "timeline_mismatch"),
]


@pytest.mark.parametrize(("text", "label"), EVIDENCE_MESSAGES)
def test_evidence_is_whole_words_about_the_cause(classifier, text, label):
    cause = load_playbook()[label]
    terms = classifier.explain(text, label, cause.cues)
    assert len(terms) <= 3
    for term in terms:
        assert term not in FRAGMENTS, terms
        assert term in cause.cues, (term, label)
        assert term in to_plain(text).lower(), term
    assert len(set(terms)) == len(terms)


def test_a_message_with_no_cue_shows_no_evidence(classifier):
    assert (
        classifier.explain(
            "I think the mktg say the time we", "lead_quality", load_playbook()["lead_quality"].cues
        )
        == []
    )


LEAD_THREAD = [
    "the webinar leads from tuesday are mostly students again",
    "lunch anyone? :burrito:",
    "we scored them exactly per the model we agreed on last quarter",
    "half of them had gmail addresses and no company name",
    "ok joining the call in 5",
    "SDRs called 40 of them, got 2 meetings. the rest were tire kickers",
    "can you help here?",
]


def _said(texts):
    return [Said(t, f"U{i % 3}", f"1700000000.{i:06d}") for i, t in enumerate(texts)]


def test_a_thread_is_diagnosed_by_what_most_of_it_is_about(diagnoser):
    finding = diagnoser.diagnose_conversation(_said(LEAD_THREAD), "thread", "can you help here?")
    assert finding.verdict is Verdict.FRICTION
    assert finding.label == "lead_quality"
    read = finding.conversation
    assert read.total == len(LEAD_THREAD)
    assert 2 <= read.count < read.total
    assert read.clearest_ts in {s.ts for s in _said(LEAD_THREAD)}
    assert finding.text == "can you help here?"  # the feedback buttons carry only the asker's words


def test_chatter_threads_are_left_alone(diagnoser):
    chatter = ["lunch?", "joining in 5", "who has the zoom link", "thx!", "see you at the offsite :wave:"]
    finding = diagnoser.diagnose_conversation(_said(chatter), "channel")
    assert finding.verdict in (Verdict.NONE, Verdict.UNSURE)


def test_a_follow_up_weighs_the_newest_message_most(diagnoser):
    thread = [
        "nobody knows who is supposed to update the battlecards",
        "I thought product marketing owned them",
        "no, enablement does. or sales ops? nobody is sure",
        "you're wrong, this was about leads not roles: the leads we got from the event were junk, "
        "no budget, no authority, half students",
    ]
    finding = diagnoser.diagnose_conversation(
        _said(thread), "thread", thread[-1], previous_label="role_confusion"
    )
    assert finding.label == "lead_quality"
    assert finding.conversation.previous.id == "role_confusion"


def test_slack_markup_is_diagnosed_like_the_words_it_shows(diagnoser):
    marked = diagnoser.diagnose(
        "<@U024BE7LH> <https://example.com/deck|the new deck> numbers don't match the site"
    )
    plain = diagnoser.diagnose("@someone the new deck numbers don't match the site")
    assert marked.verdict is Verdict.FRICTION
    assert marked.label == plain.label


BLAME_EXCHANGE = [
    "quarter closed at 78% of plan. forecast review at 4",
    "we'd have made it if the pricing page launch hadn't slipped three weeks",
    "it slipped because your team rewrote the brief twice after sign-off",
    "one change. and half the pipeline marketing promised never showed up anyway",
    "funny, the pipeline that did show up sat untouched for a week in your reps' queues",
    "can we not do this before the board call",
]
ONE_SIDED = [
    "quarter closed at 78% of plan. forecast review at 4",
    "the pricing page launch slipped three weeks, that hurt late-stage deals",
    "agreed, the old page confused people. the new one is live now",
    "let's look at which deals stalled on pricing questions and fix the FAQ",
    "I'll pull the list after the board call",
]


def test_accusations_going_both_ways_make_a_blame_game(diagnoser):
    """Each message is about a launch or pipeline; only the exchange shows the cause."""
    finding = diagnoser.diagnose_conversation(_said(BLAME_EXCHANGE), "thread", "can you help here?")
    assert finding.verdict is Verdict.FRICTION
    assert finding.label == "blame_game"
    # The same topics, talked through without pinning the miss on the other side, are no blame game.
    calm = diagnoser.diagnose_conversation(_said(ONE_SIDED), "thread", "thoughts?")
    assert calm.label != "blame_game"
