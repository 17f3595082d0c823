from model.text import normalize, strip_mentions, to_plain


def test_normalize_reduces_slack_markup_to_tokens():
    text = (
        "<@U04ABCD12> the <https://x.example/deck|Q3 deck> in <#C02XYZ987|sales-mktg> is WRONG :facepalm: 🙄"
    )
    out = normalize(text)
    assert "usermention" in out
    assert "q3 deck" in out and "link" in out
    assert "channel sales mktg" in out
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
