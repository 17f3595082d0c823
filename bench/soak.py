"""Bounded soak: the real `web` process, 1,000 signed mentions at concurrency 20, each delivered twice
(the second as Slack's retry), with a loopback Web API answering HTTP 429 to every 10th chat.postMessage.

    .venv/bin/python -m bench.soak [--mentions 1000] [--concurrency 20]

`--concurrency 1 --every 0 --mentions 50` measures one mention at a time: request to reply posted.
Prints the figures; tests/test_soak.py runs it and asserts on correctness (not on speed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import TEXTS, parents
from bot.fakeslack import FakeSlack
from model.predict import DEFAULT_ARTIFACT
from tests.conftest import start_web_server
from tests.slack import mention_event, post_signed_json


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    return [p for p, parent in parents().items() if parent == pid]


def server_rss_mb(pid: int) -> float:
    """The web process and any children it has (one waitress process today)."""
    return round(sum(rss_kb(p) for p in [pid, *children(pid)]) / 1024, 1)


def run_soak(
    mentions: int = 1000,
    concurrency: int = 20,
    every: int = 10,
    artifact: Path = DEFAULT_ARTIFACT,
    workdir: Path | None = None,
) -> dict:
    workdir = workdir or Path(tempfile.mkdtemp(prefix="truce-soak-"))
    lock = threading.Lock()
    posts_seen = {"attempts": 0, "429": 0}

    def every_nth_429(method, params, attempt):
        if method != "chat.postMessage" or not every:
            return None
        with lock:
            posts_seen["attempts"] += 1
            if posts_seen["attempts"] % every == 0:
                posts_seen["429"] += 1
                return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
        return None

    with FakeSlack() as fake:
        fake.fault = every_nth_429
        server = start_web_server(fake, workdir, artifact)
        try:
            payloads = [
                mention_event(TEXTS[i % len(TEXTS)], channel=f"C{i % 7:09d}") for i in range(mentions)
            ]
            statuses: Counter = Counter()
            latencies: list[float] = []
            rss = {"start": server_rss_mb(server.process.pid)}

            sent_at: dict[str, float] = {}

            def deliver(i: int) -> None:
                sent_at[payloads[i]["event"]["ts"]] = time.time()
                first = post_signed_json(server.events_url, payloads[i])
                retry = post_signed_json(
                    server.events_url,
                    payloads[i],
                    headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
                )
                with lock:
                    for reply in (first, retry):
                        statuses[reply.status] += 1
                        latencies.append(reply.seconds)
                if i == mentions // 5:
                    rss["warm"] = server_rss_mb(server.process.pid)

            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(deliver, range(mentions)))
            sent_s = time.perf_counter() - started
            fake.wait_for("chat.postMessage", mentions, timeout=120)
            time.sleep(1.5)  # late duplicates would land now
            drained_s = time.perf_counter() - started
            rss["end"] = server_rss_mb(server.process.pid)

            posted = Counter(
                (c.params.get("channel"), c.params.get("thread_ts"))
                for c in fake.calls_to("chat.postMessage")
            )
            expected = {(p["event"]["channel"], p["event"]["ts"]) for p in payloads}
            ordered = sorted(latencies)
            reply_s = sorted(
                c.at - sent_at[c.params["thread_ts"]]
                for c in fake.calls_to("chat.postMessage")
                if c.params.get("thread_ts") in sent_at
            )
            return {
                "mentions": mentions,
                "requests": sum(statuses.values()),
                "statuses": dict(statuses),
                "ack_ms_p50": round(statistics.median(ordered) * 1000, 1),
                "ack_ms_p99": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1),
                "ack_ms_max": round(ordered[-1] * 1000, 1),
                "reply_ms_p50": round(reply_s[len(reply_s) // 2] * 1000, 1) if reply_s else None,
                "reply_ms_p90": round(reply_s[int(0.9 * (len(reply_s) - 1))] * 1000, 1) if reply_s else None,
                "answered_once": sum(1 for key in expected if posted.get(key) == 1),
                "answered_twice_or_more": sum(1 for key in expected if posted.get(key, 0) > 1),
                "missing": sum(1 for key in expected if key not in posted),
                "unexpected": sum(1 for key in posted if key not in expected),
                "http_429_served": posts_seen["429"],
                "send_seconds": round(sent_s, 1),
                "drain_seconds": round(drained_s, 1),
                "server_rss_mb": rss,
                "server_alive": server.process.poll() is None,
                "tracebacks_in_log": server.logs().count("Traceback"),
            }
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mentions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--every", type=int, default=10, help="answer 429 to every Nth post (0: never)")
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACT)
    args = parser.parse_args(argv)
    result = run_soak(args.mentions, args.concurrency, args.every, artifact=args.model)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
