"""Logs never contain tokens, secrets or message text, even at DEBUG and when things fail."""

from __future__ import annotations

import logging
import time

from bot.logs import RedactingFilter
from tests.conftest import start_web_server
from tests.slack import (
    BOT_TOKEN,
    PULSE_KEY,
    SIGNING_SECRET,
    mention_event,
    post_signed_form,
    post_signed_json,
    slash_command,
)

MARKER = "zanzibar-quokka-7731"


def test_captured_logs_hold_no_tokens_secrets_or_message_text(module_fake_slack, tmp_path, artifact):
    server = start_web_server(module_fake_slack, tmp_path, artifact, LOG_LEVEL="DEBUG")
    module_fake_slack.reset()
    try:
        texts = [
            f"the {MARKER} leads are junk again",
            f"pricing fight about {MARKER}",
            f"my token is {BOT_TOKEN} and {MARKER}",
        ]
        for text in texts:
            assert post_signed_json(server.events_url, mention_event(text)).status == 200
        module_fake_slack.fault = lambda m, p, a: (
            (200, {}, {"ok": False, "error": "not_in_channel"}) if m == "chat.postMessage" else None
        )
        post_signed_json(server.events_url, mention_event(f"budget war {MARKER}"))
        deadline = time.time() + 10  # the reply is posted after the ack: keep the fault until it failed
        while time.time() < deadline and "chat.postMessage failed" not in server.logs():
            time.sleep(0.05)
        module_fake_slack.fault = None
        post_signed_form(
            server.events_url,
            slash_command("/remedy", f"{MARKER} credit fight", module_fake_slack.response_url()),
        )
        post_signed_json(
            server.events_url, {"type": "event_callback", "event": {"type": "app_mention", "text": MARKER}}
        )
        module_fake_slack.wait_for("chat.postMessage", 3, timeout=10)
        time.sleep(1)
    finally:
        server.stop()
    logs = server.logs()
    assert "chat.postMessage failed" in logs, "the fault should have been logged"
    for secret in (BOT_TOKEN, SIGNING_SECRET, PULSE_KEY, MARKER, "xoxb-1111"):
        assert secret not in logs, f"{secret!r} leaked into the logs"


def test_redacting_filter_masks_tokens_in_messages_and_tracebacks():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "auth with %s failed", ("xoxb-123-456-abcdef",), None
    )
    RedactingFilter(["s3cr3t-value"]).filter(record)
    assert "xoxb-123" not in record.getMessage()
    try:
        raise ValueError("s3cr3t-value in xapp-1-A1-123")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    RedactingFilter(["s3cr3t-value"]).filter(record)
    assert "s3cr3t-value" not in record.exc_text and "xapp-1-A1" not in record.exc_text


def test_database_errors_never_carry_the_values_they_tried_to_write(deps):
    import pytest
    from sqlalchemy.exc import SQLAlchemyError

    secret_text = "our VP said the quokka-zanzibar deal was marketing's fault"
    with pytest.raises(SQLAlchemyError) as error, deps.repo.transaction() as session:
        from bot.storage.models import Correction

        session.add(
            Correction(text=secret_text, predicted="x", label="blame_game", surface="s", model_version="v")
        )
        session.add(
            Correction(
                id=1, text=secret_text, predicted="x", label="blame_game", surface="s", model_version="v"
            )
        )
        session.flush()
    assert "quokka" not in str(error.value)
