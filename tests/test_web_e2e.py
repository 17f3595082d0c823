"""End to end: the real `web` process (gunicorn + Bolt), signed requests, a loopback Web API."""

from __future__ import annotations

import json
import time
import urllib.request

from tests.slack import mention_event, post, post_signed_json, sign


def test_healthz_answers_when_ready(web):
    with urllib.request.urlopen(web.url + "/healthz", timeout=5) as response:
        assert response.status == 200
        assert response.read() == b"ok"


def test_signed_mention_is_answered_once_in_its_thread(web, slack_api):
    payload = mention_event(
        "the leads from last week's webinar are junk again, half of them are students :facepalm:"
    )
    reply = post_signed_json(web.events_url, payload)
    assert reply.status == 200
    assert reply.seconds < 3

    posts = slack_api.wait_for("chat.postMessage", timeout=5)
    time.sleep(0.3)  # a second post would have arrived by now
    posts = slack_api.calls_to("chat.postMessage")
    assert len(posts) == 1
    sent = posts[0].params
    assert sent["channel"] == "C0SALESMKT"
    assert sent["thread_ts"] == payload["event"]["ts"]
    assert "lead" in sent["text"].lower()
    blocks = sent["blocks"]
    assert any(b["type"] == "actions" for b in blocks), "feedback buttons are missing"
    remedies = next(b for b in blocks if b["type"] == "section" and "What to try" in b["text"]["text"])
    assert remedies["text"]["text"].count("•") >= 2


def test_mention_inside_a_thread_replies_in_that_thread(web, slack_api):
    parent = "1700000000.000100"
    payload = mention_event("marketing changed the pricing page without telling anyone", thread_ts=parent)
    assert post_signed_json(web.events_url, payload).status == 200
    posts = slack_api.wait_for("chat.postMessage")
    assert len(posts) == 1
    assert posts[0].params["thread_ts"] == parent


def test_empty_mention_gets_help(web, slack_api):
    payload = mention_event("")
    assert post_signed_json(web.events_url, payload).status == 200
    posts = slack_api.wait_for("chat.postMessage")
    assert len(posts) == 1
    assert "Mention me" in posts[0].params["text"]


def test_forged_and_stale_requests_are_refused(web, slack_api):
    body = json.dumps(mention_event("budget war again"))
    forged = {**sign(body), "X-Slack-Signature": "v0=" + "0" * 64}
    assert post(web.events_url, body, "application/json", forged).status == 401
    stale = sign(body, timestamp=int(time.time()) - 600)
    assert post(web.events_url, body, "application/json", stale).status == 401
    wrong_secret = sign(body, secret="not-the-secret")
    assert post(web.events_url, body, "application/json", wrong_secret).status == 401
    time.sleep(0.5)
    assert slack_api.calls_to("chat.postMessage") == []


def test_url_verification_echoes_the_challenge(web):
    reply = post_signed_json(
        web.events_url, {"token": "t", "challenge": "abc123", "type": "url_verification"}
    )
    assert reply.status == 200
    assert "abc123" in reply.body


def test_a_retried_event_is_answered_once(web, slack_api):
    payload = mention_event(
        "sales keeps saying our campaigns are useless and we keep saying they never follow up"
    )
    first = post_signed_json(web.events_url, payload)
    retry = post_signed_json(
        web.events_url, payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert (first.status, retry.status) == (200, 200)
    slack_api.wait_for("chat.postMessage")
    time.sleep(0.5)
    assert len(slack_api.calls_to("chat.postMessage")) == 1
