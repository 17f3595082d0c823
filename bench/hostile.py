"""Hostile input, measured: unclosed markup in the normaliser, and slow clients against the real server.

    .venv/bin/python -m bench.hostile [--slow-clients 64] [--rounds 10]

1. `to_plain`, `normalize` and the whole diagnosis on 4,000 / 40,000 / 400,000 characters of `<http:a`.
2. The real `web` process with N connections that never finish their headers: /healthz and a signed
   mention (acknowledgement, then the reply posted), round after round.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from bot.fakeslack import FakeSlack
from bot.services.diagnose import Diagnoser
from model.playbook import load_playbook
from model.predict import DEFAULT_ARTIFACT, Classifier
from model.text import normalize, to_plain
from tests.conftest import start_web_server
from tests.slack import mention_event, post_signed_json


def best_of(fn, text: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - started)
    return min(times)


def markup(artifact: Path) -> dict:
    diagnoser = Diagnoser(Classifier.load(artifact), load_playbook())
    out = {}
    for n in (4_000, 40_000, 400_000):
        text = ("<http:a" * (n // 7 + 1))[:n]
        out[n] = {
            "to_plain_ms": round(best_of(to_plain, text) * 1000, 2),
            "normalize_ms": round(best_of(normalize, text) * 1000, 2),
            "diagnose_ms": round(best_of(lambda t: diagnoser.diagnose(t, "UTRUCE0001"), text) * 1000, 2),
        }
    return out


def slow_clients(artifact: Path, count: int, rounds: int) -> dict:
    with FakeSlack() as fake, tempfile.TemporaryDirectory() as tmp:
        server = start_web_server(fake, Path(tmp), artifact)
        host, port = server.url.removeprefix("http://").split(":")
        slow = []
        health, acks, replies = [], [], []
        try:
            for _ in range(count):
                s = socket.create_connection((host, int(port)), timeout=5)
                s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: truce\r\nX-Slack-Req")
                slow.append(s)
            time.sleep(0.5)
            for n in range(rounds):
                for s in slow:
                    s.sendall(b"u")
                started = time.perf_counter()
                with urllib.request.urlopen(server.url + "/healthz", timeout=10) as r:
                    r.read()
                health.append(time.perf_counter() - started)
                started = time.perf_counter()
                reply = post_signed_json(server.events_url, mention_event("the webinar leads are junk"))
                acks.append(reply.seconds)
                fake.wait_for("chat.postMessage", count=n + 1, timeout=10)
                replies.append(time.perf_counter() - started)
            alive = server.process.poll() is None
        finally:
            for s in slow:
                s.close()
            server.stop()

    def ms(values):
        return {"p50": round(statistics.median(values) * 1000, 1), "max": round(max(values) * 1000, 1)}

    return {
        "slow_clients": count,
        "rounds": rounds,
        "healthz_ms": ms(health),
        "ack_ms": ms(acks),
        "reply_posted_ms": ms(replies),
        "server_alive": alive,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow-clients", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT)
    args = parser.parse_args(argv)
    result = {
        "unclosed_markup": markup(args.artifact),
        "slowloris": slow_clients(args.artifact, args.slow_clients, args.rounds),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
