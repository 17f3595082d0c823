"""Slow clients (slowloris) must not starve the `web` process: the real server, raw sockets."""

from __future__ import annotations

import socket
import time
import urllib.request

from tests.conftest import start_web_server
from tests.slack import mention_event, post_signed_json

SLOW_CLIENTS = 64
ROUNDS = 3


def _healthz_seconds(url: str) -> float:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
            assert response.status == 200
    except OSError:
        return float("inf")
    return time.perf_counter() - started


def test_connections_that_never_finish_their_headers_do_not_hold_the_server(
    module_fake_slack, tmp_path, artifact
):
    server = start_web_server(module_fake_slack, tmp_path, artifact)
    module_fake_slack.reset()
    host, port = server.url.removeprefix("http://").split(":")
    slow: list[socket.socket] = []
    try:
        for _ in range(SLOW_CLIENTS):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: truce\r\nX-Slack-Req")
            slow.append(s)
        time.sleep(0.5)  # every slow client is now connected and waiting mid-header
        for n in range(ROUNDS):
            for s in slow:  # keep them alive the way a slowloris does: one more byte now and then
                s.sendall(b"u")
            assert _healthz_seconds(server.url) <= 1.5, f"round {n}: /healthz was held up"
            payload = mention_event("the leads from the webinar are junk again, half of them students")
            try:
                reply = post_signed_json(server.events_url, payload, timeout=5)
            except OSError as exc:
                raise AssertionError(f"round {n}: the signed mention got no answer ({exc})") from None
            assert reply.status == 200 and reply.seconds <= 1.5, f"round {n}: acknowledged late"
            posts = module_fake_slack.wait_for("chat.postMessage", count=n + 1, timeout=5)
            assert any(p.params.get("thread_ts") == payload["event"]["ts"] for p in posts)
        assert server.process.poll() is None
    finally:
        for s in slow:
            s.close()
        server.stop()
