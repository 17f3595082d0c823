"""Odd and hostile requests get a 4xx or a sensible reply: never a 5xx, a traceback or silence."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest

from bot.views.blocks import FALLBACK_TEXT_MAX, SECTION_TEXT_MAX
from tests.slack import envelope, mention_event, post, post_signed_json, sign


def signed_raw(web, body: str, content_type: str = "application/json"):
    return post(web.events_url, body, content_type, sign(body))


@pytest.mark.parametrize(
    "body, content_type",
    [
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
        ("payload=%5B%5D", "application/x-www-form-urlencoded"),
        ("just some words", "text/plain"),
        ("a=1&b=2", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_get_400(web, slack_api, body, content_type):
    reply = signed_raw(web, body, content_type)
    assert reply.status == 400
    assert "Traceback" not in reply.body


def test_non_utf8_body_gets_400(web):
    import hashlib
    import hmac
    import urllib.request

    from tests.slack import SIGNING_SECRET

    body = b"\xff\xfe{}"
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(web.events_url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Slack-Request-Timestamp", ts)
    request.add_header("X-Slack-Signature", f"v0={digest}")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=5)
    assert exc.value.code == 400


def test_oversized_body_gets_413(web):
    payload = mention_event("x" * 1_100_000)
    reply = post_signed_json(web.events_url, payload)
    assert reply.status == 413


def test_unsigned_or_empty_requests_are_refused(web):
    assert post(web.events_url, "{}", "application/json").status == 401
    assert post(web.events_url, "", "application/json", sign("")).status == 400


def test_a_replayed_request_is_refused(web, slack_api):
    body = json.dumps(mention_event("the pricing page promo undercut my renewal"))
    headers = sign(body)
    assert post(web.events_url, body, "application/json", headers).status == 200
    assert post(web.events_url, body, "application/json", headers).status == 401
    slack_api.wait_for("chat.postMessage")
    time.sleep(0.3)
    assert len(slack_api.calls_to("chat.postMessage")) == 1


def test_wrong_path_and_method(web):
    assert post(web.url + "/nope", "{}", "application/json").status == 404
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(web.events_url, timeout=5)
    assert exc.value.code == 405


def test_unknown_event_types_and_missing_fields_are_acknowledged_quietly(web, slack_api):
    assert post_signed_json(web.events_url, envelope({"type": "reaction_added", "user": "U1"})).status == 200
    broken = envelope({"type": "app_mention", "text": "<@UTRUCE0001> hi"})  # no channel, no ts
    assert post_signed_json(web.events_url, broken).status == 200
    no_event = {"type": "event_callback", "event_id": "Ev0NOEVENT", "team_id": "T1"}
    assert post_signed_json(web.events_url, no_event).status in (200, 400)
    time.sleep(0.5)
    assert slack_api.calls_to("chat.postMessage") == []
    assert web.process.poll() is None
    assert "Traceback" not in web.logs() or "app_mention" not in web.logs()


@pytest.mark.parametrize(
    "text, expect",
    [
        ("the MQLs are junk " * 2300, "friction-or-unsure"),  # ~40,000 characters
        (":fire: :fire: :skull:", "any"),
        ("```SELECT * FROM leads WHERE junk = true;```", "any"),
        ("営業とマーケティングがまた揉めています", "any"),
        ("las campañas de marketing no nos traen clientes y nadie nos escucha", "any"),
        ("&lt;script&gt;alert(1)&lt;/script&gt; &amp;&amp;", "any"),
        ("   ", "help"),
        ("\u0000\u200b\u202e odd characters", "any"),
    ],
)
def test_every_kind_of_mention_gets_one_reply_within_slack_limits(web, slack_api, text, expect):
    payload = mention_event(text)
    reply = post_signed_json(web.events_url, payload)
    assert reply.status == 200 and reply.seconds < 3
    posts = slack_api.wait_for("chat.postMessage", timeout=10)
    assert len(posts) == 1
    sent = posts[0].params
    assert sent["thread_ts"] == payload["event"]["ts"]
    assert 0 < len(sent["text"]) <= FALLBACK_TEXT_MAX
    assert len(sent.get("blocks", [])) <= 50
    for block in sent.get("blocks", []):
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_TEXT_MAX
    assert "<script>" not in json.dumps(sent)
    if expect == "help":
        assert "Mention me" in sent["text"]
    if expect == "friction-or-unsure":
        assert "lead" in json.dumps(sent["blocks"]).lower()


def test_slash_command_body_without_a_listener_is_not_a_5xx(web):
    body = urlencode(
        {
            "command": "/nonexistent",
            "text": "x",
            "team_id": "T1",
            "user_id": "U1",
            "channel_id": "C1",
            "response_url": "http://127.0.0.1:9/r",
            "trigger_id": "1.2.3",
        }
    )
    reply = post(web.events_url, body, "application/x-www-form-urlencoded", sign(body))
    assert reply.status < 500
