"""End to end: Truce reads the conversation it is asked about, through the real `web` process and a
loopback Web API that serves conversations.replies / conversations.history in small pages."""

from __future__ import annotations

import time

from bot.fakeslack import BOT_ID, BOT_USER_ID, TEAM_ID
from bot.views.render import render_message
from tests.remedy_payloads import dispatch_event
from tests.slack import envelope, mention_event, post_signed_json

CHANNEL = "C0SALESMKT"
PEOPLE = ["U0AE00001", "U0MK00002", "U0AE00003", "U0MK00004"]

LEAD_COMPLAINTS = [
    "the webinar leads from tuesday are mostly students again",
    "half of them had gmail addresses and no company name",
    "SDRs called 40 of them, got 2 meetings. the rest were tire kickers",
    "we scored them exactly per the lead model we agreed on",
    "then the scoring model is broken, nobody with a budget filled that form",
    "can we stop sending every ebook download to the reps as an MQL",
    "3 of the 'hot' leads were our own competitors lol",
    "and the ones from the trade show list bounced",
]
CHATTER = ["lunch anyone? :burrito:", "joining the call in 5", "who has the zoom link", "thx!", "brb"]


def lead_thread(fake, parent_ts: str) -> list[str]:
    """A long thread (more than one page) of lead-quality complaints mixed with chatter."""
    texts = []
    for i in range(3):
        texts += LEAD_COMPLAINTS[i * 3 : i * 3 + 3] + CHATTER[i : i + 2]
    base = float(parent_ts)
    for i, text in enumerate(texts):
        message = {"user": PEOPLE[i % 4], "text": text, "ts": f"{base + i:.6f}"}
        if i:
            message["thread_ts"] = parent_ts
        else:
            fake.history.setdefault(CHANNEL, []).append(message)
            continue
        fake.add_message(CHANNEL, message)
    fake.add_message(
        CHANNEL,
        {
            "bot_id": "B0OTHER01",
            "subtype": "bot_message",
            "text": "Zapier: new lead from the junk form",
            "thread_ts": parent_ts,
            "ts": f"{base + 50:.6f}",
        },
    )
    return texts


def mention_in_thread(text: str, parent_ts: str, user: str = "U0MK00002") -> dict:
    payload = mention_event(text, thread_ts=parent_ts, user=user)
    payload["event"]["ts"] = f"{float(parent_ts) + 100 + time.time() % 1:.6f}"
    return payload


def posted(slack_api, count: int = 1):
    slack_api.wait_for("chat.postMessage", count=count, timeout=8)
    time.sleep(0.3)  # a duplicate would have arrived by now
    return slack_api.calls_to("chat.postMessage")


def test_a_heated_thread_is_diagnosed_as_a_whole(web, slack_api):
    parent = f"{int(time.time()) - 3000}.000100"
    texts = lead_thread(slack_api, parent)
    slack_api.page_size = 5
    payload = mention_in_thread("can you help here?", parent)
    assert post_signed_json(web.events_url, payload).status == 200

    posts = posted(slack_api)
    assert len(posts) == 1
    reply = posts[0].params
    assert reply["channel"] == CHANNEL and reply["thread_ts"] == parent
    blocks_text = " ".join(str(b) for b in reply["blocks"])
    assert "/remedy lead_quality" in blocks_text
    assert "messages here are about lead quality" in blocks_text
    # It read every page of the thread (5 per page here), and nothing else.
    reads = slack_api.calls_to("conversations.replies")
    assert len(reads) >= 2 and all(r.params["channel"] == CHANNEL and r.params["ts"] == parent for r in reads)
    assert slack_api.calls_to("conversations.history") == []
    # It never quotes or names the people in the thread (in anything a person can see).
    visible = render_message(reply) + reply["text"]
    for text in texts:
        assert text not in visible and text not in blocks_text
    for person in PEOPLE:
        assert person not in visible
    # What it read is never logged.
    logs = web.logs()
    assert not [text for text in texts if text in logs]
    # It links the clearest message (chat.getPermalink), which is one of the people's messages.
    links = slack_api.calls_to("chat.getPermalink")
    assert len(links) == 1 and "archives" in blocks_text


def test_a_second_mention_in_the_thread_within_a_minute_does_not_read_it_again(app, fake_slack):
    """In-process (one listener, one cache), so the count of reads is exact."""
    parent = f"{int(time.time()) - 2000}.000100"
    lead_thread(fake_slack, parent)
    assert dispatch_event(app, mention_in_thread("thoughts?", parent)).status == 200
    assert dispatch_event(app, mention_in_thread("and now?", parent, user="U0AE00003")).status == 200
    posts = fake_slack.wait_for("chat.postMessage", count=2)
    assert len(posts) == 2 and all(p.params["thread_ts"] == parent for p in posts)
    assert len(fake_slack.calls_to("conversations.replies")) == 1
    # The second answer knew about the first: it is a follow-up.
    assert (
        "Reading the thread again" in posts[1].params["text"] or "looks more like" in posts[1].params["text"]
    )


def test_a_top_level_summons_reads_the_channels_last_hour(web, slack_api):
    now = time.time()
    for i, text in enumerate(LEAD_COMPLAINTS[:5] + CHATTER[:2]):
        slack_api.history.setdefault(CHANNEL, []).append(
            {"type": "message", "user": PEOPLE[i % 4], "text": text, "ts": f"{now - 600 + i:.6f}"}
        )
    slack_api.history[CHANNEL].append(
        {"type": "message", "user": "U0OLD", "text": "the leads are junk", "ts": f"{now - 7200:.6f}"}
    )
    payload = mention_event("thoughts?")
    assert post_signed_json(web.events_url, payload).status == 200

    posts = posted(slack_api)
    assert len(posts) == 1
    text = " ".join(str(b) for b in posts[0].params["blocks"])
    assert "I read the last 7 messages in this channel" in text
    assert "/remedy lead_quality" in text
    (read,) = slack_api.calls_to("conversations.history")
    assert read.params["channel"] == CHANNEL
    assert int(read.params["limit"]) == 30
    assert float(payload["event"]["ts"]) - float(read.params["oldest"]) == 3600


def test_a_mention_with_its_own_complaint_is_diagnosed_on_its_words(web, slack_api):
    payload = mention_event("the leads from last week's webinar are junk again, half of them are students")
    assert post_signed_json(web.events_url, payload).status == 200
    posts = posted(slack_api)
    assert len(posts) == 1 and "/remedy lead_quality" in str(posts[0].params["blocks"])
    assert slack_api.calls_to("conversations.history") == []


def test_a_refused_read_falls_back_to_the_mentions_words_with_a_hint(web, slack_api):
    parent = f"{int(time.time()) - 1000}.000100"
    lead_thread(slack_api, parent)

    def no_scope(method, params, attempt):
        if method == "conversations.replies":
            return 200, {}, {"ok": False, "error": "missing_scope", "needed": "channels:history"}
        return None

    slack_api.fault = no_scope
    payload = mention_in_thread("the leads marketing sent this week are junk, can you help here?", parent)
    assert post_signed_json(web.events_url, payload).status == 200
    posts = posted(slack_api)
    assert len(posts) == 1
    text = " ".join(str(b) for b in posts[0].params["blocks"])
    assert "channels:history" in text and "couldn't read this thread" in text
    assert "/remedy lead_quality" in text  # the mention's own words still get a diagnosis


def test_a_rate_limited_read_is_not_waited_out(web, slack_api):
    parent = f"{int(time.time()) - 900}.000100"
    lead_thread(slack_api, parent)

    def limited(method, params, attempt):
        if method == "conversations.replies":
            return 429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"}
        return None

    slack_api.fault = limited
    started = time.time()
    assert post_signed_json(web.events_url, mention_in_thread("thoughts?", parent)).status == 200
    posts = posted(slack_api)
    assert len(posts) == 1
    assert time.time() - started < 15  # far from the 30 s Slack asked for
    text = " ".join(str(b) for b in posts[0].params["blocks"])
    assert "ask again in a minute" in text


def test_help_gets_help(web, slack_api):
    for text in ("help", "what can you do?"):
        assert post_signed_json(web.events_url, mention_event(text)).status == 200
    posts = posted(slack_api, 2)
    assert len(posts) == 2
    assert all("Mention me" in p.params["text"] for p in posts)


def test_a_follow_up_in_truces_thread_says_what_changed(web, slack_api):
    parent = f"{int(time.time()) - 500}.000100"
    roles = [
        "who is supposed to update the battlecards? nobody knows",
        "I thought product marketing owned them, sales ops says it's enablement",
        "so nobody owns them and they're 8 months old. whose job is this",
    ]
    for i, text in enumerate(roles):
        message = {"user": PEOPLE[i % 4], "text": text, "ts": f"{float(parent) + i:.6f}"}
        if i:
            message["thread_ts"] = parent
        slack_api.add_message(CHANNEL, message)
    assert post_signed_json(web.events_url, mention_in_thread("can you help here?", parent)).status == 200
    first = posted(slack_api)[0].params
    assert "/remedy role_confusion" in str(first["blocks"])

    follow = mention_in_thread(
        "you're wrong, this was about leads not roles: the event leads were junk, students and competitors",
        parent,
        user="U0AE00001",
    )
    follow["event"]["ts"] = f"{float(parent) + 300:.6f}"
    assert post_signed_json(web.events_url, follow).status == 200
    posts = posted(slack_api, 2)
    assert len(posts) == 2
    second = posts[1].params
    assert second["thread_ts"] == parent
    assert "then it looks more like" in second["text"]
    assert "/remedy lead_quality" in str(second["blocks"])


def dm_event(text: str, **extra) -> dict:
    ts = f"{time.time():.6f}"
    event = {
        "type": "message",
        "channel": "D0DMUSER01",
        "channel_type": "im",
        "user": "U0AE00001",
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "team": TEAM_ID,
        **extra,
    }
    return envelope(event)


def test_a_dm_gets_a_private_answer_and_truce_never_answers_itself(web, slack_api):
    payload = dm_event(
        "I don't want to call anyone out, but the leads marketing sends us are junk: students and gmail addresses"
    )
    assert post_signed_json(web.events_url, payload).status == 200
    posts = posted(slack_api)
    assert len(posts) == 1
    assert posts[0].params["channel"] == "D0DMUSER01"
    assert "/remedy lead_quality" in str(posts[0].params["blocks"])
    assert "thread_ts" not in posts[0].params or not posts[0].params["thread_ts"]

    slack_api.reset()
    ignored = [
        dm_event("I am Truce talking", user=BOT_USER_ID, bot_id=BOT_ID),
        dm_event("a bot says hello", bot_id="B0OTHER01", subtype="bot_message"),
        dm_event("", subtype="message_changed", message={"text": "the leads are junk"}),
        dm_event("", subtype="message_deleted"),
        {**dm_event("the leads are junk"), "event": {**dm_event("x")["event"], "channel_type": "channel"}},
    ]
    for payload in ignored:
        assert post_signed_json(web.events_url, payload).status == 200
    time.sleep(1.0)
    assert slack_api.calls_to("chat.postMessage") == []


def test_a_dm_thread_is_read_for_context(web, slack_api):
    parent = f"{int(time.time()) - 400}.000100"
    dm = "D0DMUSER01"
    slack_api.add_message(
        dm, {"user": "U0AE00001", "text": "so the webinar leads were mostly students", "ts": parent}
    )
    slack_api.add_message(
        dm,
        {
            "user": "U0AE00001",
            "text": "and half had gmail addresses, no company",
            "ts": f"{float(parent) + 1:.6f}",
            "thread_ts": parent,
        },
    )
    payload = dm_event("what should I do?", thread_ts=parent, channel=dm)
    assert post_signed_json(web.events_url, payload).status == 200
    posts = posted(slack_api)
    assert len(posts) == 1
    assert posts[0].params["channel"] == dm and posts[0].params["thread_ts"] == parent
    assert "/remedy lead_quality" in str(posts[0].params["blocks"])
    assert slack_api.calls_to("conversations.replies")
