"""With SLACK_APP_TOKEN set, the run command connects over Socket Mode and answers a mention."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import server_env
from tests.slack import mention_event
from tests.ws_server import FakeSocketModeServer


def test_run_command_uses_socket_mode_and_answers_a_mention(fake_slack, tmp_path, artifact):
    ws = FakeSocketModeServer()
    fake_slack.socket_mode_url = ws.url
    env = server_env(
        fake_slack, f"sqlite:///{tmp_path / 't.db'}", artifact, SLACK_APP_TOKEN="xapp-1-A0TRUCE-123-abc"
    )
    env.pop("SLACK_SIGNING_SECRET")  # Socket Mode needs no signing secret
    log = open(tmp_path / "socket.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert ws.wait_connected(60), (tmp_path / "socket.log").read_text()
        assert fake_slack.calls_to("apps.connections.open")[0].params["_token"].startswith("xapp-")
        ws.send({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0TRUCE001"}})
        payload = mention_event("the webinar leads were junk again, nobody qualified them")
        ws.send(
            {
                "envelope_id": "env-1",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": payload,
            }
        )
        assert ws.wait_received("env-1"), "the envelope was not acknowledged"
        posts = fake_slack.wait_for("chat.postMessage", timeout=10)
        assert len(posts) == 1
        assert posts[0].params["thread_ts"] == payload["event"]["ts"]
        assert "lead" in posts[0].params["text"].lower()
    finally:
        process.terminate()
        process.wait(10)
        ws.close()
