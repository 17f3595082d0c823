"""Web API faults: retried where a retry makes sense, one clear log line where not, never a dead process."""

from __future__ import annotations

import time

import pytest

from tests.conftest import start_web_server
from tests.slack import mention_event, post_signed_json

FRICTION = "marketing keeps sending us junk leads that never pick up the phone"


def fail_first(status: int, body: dict, headers: dict | None = None, times: int = 1):
    def fault(method, params, attempt):
        if method == "chat.postMessage" and attempt <= times:
            return status, headers or {}, body
        return None

    return fault


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived", "invalid_auth"])
def test_permanent_errors_are_logged_once_and_the_process_carries_on(web, slack_api, error):
    slack_api.fault = fail_first(200, {"ok": False, "error": error}, times=99)
    assert post_signed_json(web.events_url, mention_event(FRICTION)).status == 200
    deadline = time.time() + 5
    while time.time() < deadline and f"chat.postMessage failed in C0SALESMKT: {error}" not in web.logs():
        time.sleep(0.05)
    assert f"chat.postMessage failed in C0SALESMKT: {error}" in web.logs()
    slack_api.fault = None
    assert post_signed_json(web.events_url, mention_event(FRICTION)).status == 200
    assert len(slack_api.wait_for("chat.postMessage")) == 1
    assert web.process.poll() is None


def test_rate_limit_is_waited_out_and_posted_once(web, slack_api):
    slack_api.fault = fail_first(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    started = time.time()
    assert post_signed_json(web.events_url, mention_event(FRICTION)).status == 200
    posts = slack_api.wait_for("chat.postMessage", timeout=10)
    assert len(posts) == 1
    assert time.time() - started >= 0.9, "Retry-After was not honoured"
    time.sleep(0.3)
    assert len(slack_api.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried(web, slack_api, status):
    slack_api.fault = fail_first(status, {"ok": False, "error": "internal_error"})
    assert post_signed_json(web.events_url, mention_event(FRICTION)).status == 200
    assert len(slack_api.wait_for("chat.postMessage", timeout=10)) == 1


def test_a_read_timeout_is_logged_not_retried(module_fake_slack, tmp_path, artifact):
    def slow(method, params, attempt):
        if method == "chat.postMessage" and attempt == 1:
            time.sleep(2.5)
        return None

    server = start_web_server(module_fake_slack, tmp_path, artifact, SLACK_API_TIMEOUT="1")
    try:
        module_fake_slack.reset()
        module_fake_slack.fault = slow
        assert post_signed_json(server.events_url, mention_event(FRICTION)).status == 200
        deadline = time.time() + 8
        while (
            time.time() < deadline and "chat.postMessage failed in C0SALESMKT: timeout" not in server.logs()
        ):
            time.sleep(0.05)
        assert "chat.postMessage failed in C0SALESMKT: timeout" in server.logs()
        module_fake_slack.fault = None
        module_fake_slack.reset()
        assert post_signed_json(server.events_url, mention_event(FRICTION)).status == 200
        assert len(module_fake_slack.wait_for("chat.postMessage")) == 1
    finally:
        module_fake_slack.fault = None
        server.stop()
