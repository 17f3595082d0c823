import time

import pytest

from model.text import normalize, strip_mentions, to_plain


def test_normalize_reads_slack_markup_as_the_words_it_shows():
    text = (
        "<@U04ABCD12> the <https://x.example/deck|Q3 deck> in <#C02XYZ987|sales-mktg> is WRONG :facepalm: 🙄"
    )
    out = normalize(text)
    assert out.startswith("@someone the q3 deck in #sales-mktg is wrong")
    assert "x.example" not in out and "link" not in out
    assert "emoji_facepalm" in out
    assert "emoji_face_with_rolling_eyes" in out
    assert out == out.lower()


def test_normalize_folds_repeated_letters_and_entities():
    assert normalize("sooooo &lt;3 leads") == "soo <3 leads"


def test_normalize_survives_odd_input():
    assert normalize("") == ""
    assert normalize(None) == ""
    assert "codeblock" in normalize("```select * from leads```")


def test_strip_mentions_removes_only_the_bot():
    assert strip_mentions("<@UBOT> ask <@U123> about it", "UBOT") == "ask <@U123> about it"


def test_to_plain_is_readable():
    assert (
        to_plain("<@U1> see <https://a.b/c|the doc> &amp; <#C1|general>") == "@someone see the doc & #general"
    )


ISSUE_9_MESSAGE = "<@U123ABC> <https://example.com/deck|the new deck> numbers don't match the site"


def test_a_mention_and_a_labelled_link_read_like_the_words_they_show():
    assert normalize(ISSUE_9_MESSAGE) == normalize("@someone the new deck numbers don't match the site")
    assert to_plain(ISSUE_9_MESSAGE) == "@someone the new deck numbers don't match the site"


@pytest.mark.parametrize(
    "markup, words",
    [
        ("<@U123ABC> said so", "@someone said so"),
        ("<@W123ABC|pat> said so", "@someone said so"),
        ("see <https://example.com/deck|the new deck>", "see the new deck"),
        ("see <https://example.com/deck>", "see link"),
        ("write to <mailto:ops@example.com|ops>", "write to ops"),
        ("in <#C123|general> today", "in #general today"),
        ("in <#C123> today", "in #channel today"),
        ("<!here> the deck is out", "@here the deck is out"),
        ("<!channel|channel> the deck is out", "@channel the deck is out"),
        ("ask <!subteam^S123|@sales-leads>", "ask @sales-leads"),
        ("due <!date^1700000000^{date_short}|Nov 14>", "due nov 14"),
    ],
)
def test_each_kind_of_markup_becomes_the_words_it_shows(markup, words):
    assert normalize(markup) == normalize(words)
    assert "<" not in normalize(markup)


def test_the_classifier_reads_markup_like_the_words_it_shows(classifier):
    plain = classifier.predict("@someone the new deck numbers don't match the site")
    marked_up = classifier.predict(ISSUE_9_MESSAGE)
    assert marked_up.label == plain.label
    assert marked_up.is_friction


@pytest.mark.parametrize("unit", ["<http:a", "<@U1|x", "<#C1|x", "<!here|x", "<!subteam^S1|x", "<!date^1|x"])
def test_unclosed_markup_takes_linear_time(unit):
    text = unit * (40_000 // len(unit))  # 40,000 characters of markup that never closes
    started = time.perf_counter()
    to_plain(text)
    normalize(text)
    strip_mentions(text, "UTRUCE0001")
    # Linear work on 40,000 characters is a few milliseconds; the quadratic patterns took seconds.
    assert time.perf_counter() - started < 1.0
