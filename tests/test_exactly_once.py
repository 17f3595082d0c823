"""Exactly once, the hard cases: a retry that arrives while the first attempt is still working, and a
retry that lands on another process sharing the database (SQLite here; PostgreSQL when available)."""

from __future__ import annotations

import time

import pytest

from bot.storage.db import connect
from bot.storage.repository import Repository
from tests.conftest import start_web_server
from tests.pg import BACKENDS, database_url
from tests.slack import mention_event, post_signed_json

RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


def slow_posts(seconds: float):
    def fault(method, params, attempt):
        if method == "chat.postMessage":
            time.sleep(seconds)
        return None

    return fault


def test_retry_while_the_first_attempt_is_still_posting(web, slack_api):
    slack_api.fault = slow_posts(1.5)
    payload = mention_event("marketing keeps taking credit for deals we sourced")
    assert post_signed_json(web.events_url, payload).status == 200
    time.sleep(0.2)
    assert post_signed_json(web.events_url, payload, headers=RETRY).status == 200
    assert (
        post_signed_json(web.events_url, payload, headers={**RETRY, "X-Slack-Retry-Num": "2"}).status == 200
    )
    slack_api.wait_for("chat.postMessage", timeout=10)
    time.sleep(2)
    assert len(slack_api.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_retry_on_another_process_sharing_the_database(module_fake_slack, tmp_path, artifact, backend):
    db_url = database_url(backend, tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = start_web_server(module_fake_slack, tmp_path / "a", artifact, db_url=db_url)
    second = start_web_server(module_fake_slack, tmp_path / "b", artifact, db_url=db_url)
    try:
        module_fake_slack.reset()
        module_fake_slack.fault = slow_posts(0.5)
        payloads = [mention_event(f"the leads are junk, batch {i}") for i in range(5)]
        for payload in payloads:
            assert post_signed_json(first.events_url, payload).status == 200
            assert post_signed_json(second.events_url, payload, headers=RETRY).status == 200
        module_fake_slack.wait_for("chat.postMessage", 5, timeout=15)
        time.sleep(1.5)
        threads = [c.params["thread_ts"] for c in module_fake_slack.calls_to("chat.postMessage")]
        assert sorted(threads) == sorted(p["event"]["ts"] for p in payloads)
    finally:
        module_fake_slack.fault = None
        first.stop()
        second.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_claims_say_which_keys_were_taken_before(tmp_path, backend):
    """The front door claims (signature, delivery) in one statement: what it answers depends on which
    of the two another attempt had claimed."""
    repo = Repository(connect(database_url(backend, tmp_path)))
    assert repo.claim_each(["sig:a", "event:Ev1"]) == [True, True]  # new: handle it
    assert repo.claim_each(["sig:b", "event:Ev1"]) == [True, False]  # Slack's retry: same event
    assert repo.claim_each(["sig:a", "event:Ev1"]) == [False, False]  # a replayed request
    assert repo.claim("event:Ev2") is True
    assert repo.claim("event:Ev2") is False
    # The claims are ordinary rows: their time reads back as UTC and the daily prune removes old ones.
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from bot.storage.models import HandledRequest
    from bot.storage.repository import as_utc

    with repo._sessions() as session:
        times = session.scalars(select(HandledRequest.created_at)).all()
    assert len(times) == 4
    assert all(abs(datetime.now(UTC) - as_utc(moment)) < timedelta(minutes=5) for moment in times)
    assert repo.prune_handled(datetime.now(UTC) - timedelta(minutes=5)) == 0
    assert repo.prune_handled(datetime.now(UTC) + timedelta(minutes=1)) == 4
    assert repo.claim("event:Ev2") is True  # pruned: a key may be claimed again
