"""Odd and hostile requests get a 4xx or a sensible reply: never a 5xx, a traceback or silence."""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlencode

import pytest

from bot.views.blocks import FALLBACK_TEXT_MAX, SECTION_TEXT_MAX
from tests.slack import (
    envelope,
    mention_event,
    post,
    post_signed_form,
    post_signed_json,
    sign,
    slash_command,
)


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


def test_mentions_of_unclosed_markup_are_acknowledged_at_once_and_answered_within_a_second(web, slack_api):
    # 40,000 characters of `<http:a`: the link pattern used to try every `<` against the rest of the text.
    payloads = [mention_event("<http:a" * 5715) for _ in range(4)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda p: post_signed_json(web.events_url, p), payloads))
    assert [r.status for r in replies] == [200] * 4
    assert max(r.seconds for r in replies) <= 1.5, "not acknowledged at once"
    posts = slack_api.wait_for("chat.postMessage", count=4, timeout=10)
    answered = time.perf_counter() - started
    assert sorted(p.params["thread_ts"] for p in posts) == sorted(p["event"]["ts"] for p in payloads)
    assert answered <= 1.5, f"answered after {answered:.1f} s"


def raw_post(web, body: bytes, headers: dict[str, str | bytes]) -> tuple[int, str]:
    """A POST with header values as raw bytes (urllib would refuse the non-ASCII ones)."""
    host, port = web.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("POST", "/slack/events")
        for key, value in {"Content-Type": "application/json", **headers}.items():
            connection.putheader(key, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def new_log_lines(web, since: int) -> list[str]:
    time.sleep(0.3)  # let the worker write what it writes
    return web.logs()[since:].strip().splitlines()


NESTED = 100_000


@pytest.mark.parametrize(
    "name, body, headers",
    [
        # '²' (and '١٢٣' in Arabic-Indic digits) pass str.isdigit() but int() refuses them
        ("superscript timestamp", b"{}", {"X-Slack-Request-Timestamp": "17000²".encode("latin-1")}),
        ("arabic-indic timestamp", b"{}", {"X-Slack-Request-Timestamp": "١٢٣".encode()}),
        ("non-ASCII signature", b"{}", {"X-Slack-Signature": ("v0=" + "é" * 64).encode("latin-1")}),
    ],
)
def test_signature_headers_with_non_ascii_characters_get_401_and_one_short_log_line(web, name, body, headers):
    signed = sign(body.decode())
    since = len(web.logs())
    status, _ = raw_post(web, body, {**signed, **headers})
    assert status == 401, name
    lines = new_log_lines(web, since)
    assert len(lines) == 1 and len(lines[0]) < 200, lines
    assert "Traceback" not in "\n".join(lines)


@pytest.mark.parametrize(
    "body, content_type",
    [
        ('{"a":' * NESTED + "1" + "}" * NESTED, "application/json"),
        ("[" * NESTED + "]" * NESTED, "application/json"),
        ("payload=" + quote("[" * NESTED + "]" * NESTED), "application/x-www-form-urlencoded"),
    ],
    ids=["object", "array", "interaction"],
)
def test_a_signed_body_nested_100000_deep_gets_400_and_one_short_log_line(web, body, content_type):
    since = len(web.logs())
    reply = signed_raw(web, body, content_type)
    assert reply.status == 400
    lines = new_log_lines(web, since)
    assert len(lines) == 1 and len(lines[0]) < 200, lines
    assert "Traceback" not in "\n".join(lines)
    assert web.process.poll() is None


@pytest.mark.parametrize(
    "field, value",
    [
        ("text", "the payload of last week's campaign brought us nothing but junk leads"),
        ("channel_name", "payload-team"),
        ("user_name", "payload.pat"),
    ],
)
def test_a_slash_command_with_the_word_payload_anywhere_is_answered(web, slack_api, field, value):
    fields = slash_command("/remedy", "leads", slack_api.response_url("payload"))
    fields[field] = value
    reply = post_signed_form(web.events_url, fields)
    assert reply.status == 200 and reply.seconds <= 3
    if field == "text":  # a description: acknowledged at once, the card follows on the response_url
        answer = slack_api.wait_for("response_url", timeout=10)
        assert len(answer) == 1
        card = answer[0].params
    else:  # a lookup: the card is the acknowledgement itself
        card = reply.json()
    assert "Lead quality" in json.dumps(card["blocks"])
