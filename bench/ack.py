"""What acknowledging a mention costs: Truce's `web` process against a bare Bolt app, same server.

    .venv/bin/python -m bench.ack [--requests 400] [--rounds 3] [--concurrency 1 10]

Starts, each on an ephemeral loopback port:
- Truce's `web` process exactly as the Procfile runs it (`sh -c "<web line>"`), with SLACK_API_URL
  pointing at a loopback mock Web API (bot/fakeslack.py) and SQLite in a temporary folder; a second
  Truce on PostgreSQL too when TRUCE_TEST_POSTGRES_URL is set (a fresh database on that server);
- a bare Bolt app (`slack_bolt.App`, the same signing secret, answering every app_mention with a fixed
  text through say() in the mention's thread), served by waitress with as many threads as Truce's
  WEB_THREADS default, through Bolt's own WSGI adapter.

Each mock Web API runs in its own process, so recording replies does not steal the load generator's
CPU. Then, round after round, it sends N signed app_mention events (unique event_ids, Slack's payload
shape) at each concurrency to each app, waits until every reply is posted, and prints per app and
concurrency the medians over rounds of p50/p90/p99 acknowledgement latency and throughput, the
Truce/bare ratios taken within each round (then their median), whether every mention got exactly one
reply, and the PSS of each web process tree (the process and its children, /proc/*/smaps_rollup)
after the run. The machine is shared: read ratios side by side, not absolute figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slack_sdk.signature import SignatureVerifier

from bench.common import TEXTS, parents
from bot.fakeslack import BOT_USER_ID, TEAM_ID, FakeSlack
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "bench-signing-secret-0123456789"
BOT_TOKEN = "xoxb-1111-2222-benchtokenvalue"
PULSE_KEY = "bench-pulse-key-0123456789abcdef"
BARE_REPLY = "Thanks for the mention!"


# ---- the mock Web API, in a process of its own ------------------------------------------------
def _fake_slack_process(conn) -> None:
    with FakeSlack() as fake:
        conn.send(fake.api_url)
        while True:
            command = conn.recv()
            if command == "posts":
                conn.send(
                    [
                        (c.params.get("channel"), c.params.get("thread_ts"), c.at)
                        for c in fake.calls_to("chat.postMessage")
                    ]
                )
            elif command == "reset":
                fake.reset()
                conn.send(True)
            else:
                return


class RemoteFake:
    def __init__(self):
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=_fake_slack_process, args=(child,), daemon=True)
        self._process.start()
        self.api_url = self._conn.recv()

    def posts(self) -> list[tuple]:
        self._conn.send("posts")
        return self._conn.recv()

    def reset(self) -> None:
        self._conn.send("reset")
        self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(5)


# ---- the bare Bolt app ---------------------------------------------------------------------------
def serve_bare(port: int, api_url: str, threads: int) -> None:
    """`python -m bench.ack --serve-bare PORT --api-url URL`: the smallest Bolt app that answers."""
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient
    from waitress import serve

    app = App(signing_secret=SIGNING_SECRET, client=WebClient(token=BOT_TOKEN, base_url=api_url))

    @app.event("app_mention")
    def mention(event, say):
        say(text=BARE_REPLY, thread_ts=event["ts"])

    serve(SlackRequestHandler(app), host="127.0.0.1", port=port, threads=threads, ident="bare")


# ---- processes ----------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_web() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit("Procfile has no web: line")


def base_env(api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TRUCE_", "DATABASE_URL"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api_url,
        TRUCE_PULSE_KEY=PULSE_KEY,
        PYTHONPATH=str(ROOT),
        # `python` in the Procfile is this interpreter (the project's venv), as on a platform's image.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


class Served:
    def __init__(self, name: str, args: list[str], env: dict[str, str], port: int, log: Path, cwd: Path):
        self.name = name
        self.port = port
        self.log = log
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=open(log, "w"),  # noqa: SIM115 - lives as long as the process
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, path: str, timeout: float = 300) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log.read_text()}"
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request(
                    "GET" if path == "/healthz" else "POST", path, body=None if path == "/healthz" else b""
                )
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)  # the Procfile line runs under sh: signal the whole group
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


def descendants(pid: int) -> list[int]:
    parent_of = parents()
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parent_of.items() if parent == current]
        found.extend(kids)
        frontier.extend(kids)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process and all its descendants so far."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def pss_mb(pid: int) -> float:
    """Proportional set size of the process and all its descendants."""
    total_kb = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return round(total_kb / 1024, 1)


# ---- load --------------------------------------------------------------------------------------
def mention_body(i: int, ts: str) -> bytes:
    """An app_mention event as Slack sends it (shared/slack-reference/app_mention.json's shape)."""
    text = TEXTS[i % len(TEXTS)]
    event = {
        "type": "app_mention",
        "text": f"<@{BOT_USER_ID}> {text}",
        "user": f"U0AE{i % 50:05d}",
        "ts": ts,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": uuid.uuid4().hex[:5],
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "user", "user_id": BOT_USER_ID},
                            {"type": "text", "text": " " + text},
                        ],
                    }
                ],
            }
        ],
        "team": TEAM_ID,
        "channel": f"C{i % 7:09d}",
        "event_ts": ts,
    }
    payload = {
        "token": "VERIFICATION_TOKEN_PLACEHOLDER",
        "team_id": TEAM_ID,
        "api_app_id": "A0TRUCE001",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}",
        "event_time": int(float(ts)),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + uuid.uuid4().hex[:16],
    }
    return json.dumps(payload).encode()


_ts_counter = iter(range(1, 10**9))


def signed_requests(n: int) -> list[tuple[bytes, dict[str, str], str]]:
    verifier = SignatureVerifier(SIGNING_SECRET)
    now = int(time.time())
    out = []
    for i in range(n):
        ts = f"{now}.{next(_ts_counter):06d}"
        body = mention_body(i, ts)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "Accept": "application/json,*/*",
            "X-Slack-Request-Timestamp": str(now),
            "X-Slack-Signature": verifier.generate_signature(timestamp=str(now), body=body.decode()),
        }
        out.append((body, headers, ts))
    return out


def fire(port: int, requests: list, concurrency: int) -> dict:
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()

    def one(item) -> None:
        body, headers, _ = item
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", "/slack/events", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = 0
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            statuses[status] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, requests))
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "req_per_s": round(len(requests) / wall, 1),
        "statuses": dict(statuses),
    }


def replies_check(fake: RemoteFake, sent: list[str], started: float, timeout: float = 120) -> dict:
    """Every mention answered exactly once, in its thread; and how fast the replies went out
    (mentions / seconds from the first request sent to the last reply posted)."""
    deadline = time.time() + timeout
    posts = fake.posts()
    while len(posts) < len(sent) and time.time() < deadline:
        time.sleep(0.2)
        posts = fake.posts()
    time.sleep(0.5)  # a late duplicate would land now
    posts = fake.posts()
    per_thread = Counter(thread_ts for _, thread_ts, _ in posts)
    last = max((at for *_, at in posts), default=started)
    return {
        "replies_per_s": round(len(sent) / max(last - started, 1e-6), 1),
        "mentions": len(sent),
        "answered_once": sum(1 for ts in sent if per_thread.get(ts) == 1),
        "twice_or_more": sum(1 for ts in sent if per_thread.get(ts, 0) > 1),
        "missing": sum(1 for ts in sent if ts not in per_thread),
    }


# ---- the run ------------------------------------------------------------------------------------
def start_apps(workdir: Path, threads: int) -> tuple[list, list[Served]]:
    fakes, apps = [], []
    for name in ["bare", "truce-sqlite"] + (
        ["truce-postgres"] if os.environ.get("TRUCE_TEST_POSTGRES_URL") else []
    ):
        fake = RemoteFake()
        port = free_port()
        env = {**base_env(fake.api_url), "PORT": str(port)}
        if name == "bare":
            args = [
                sys.executable,
                "-m",
                "bench.ack",
                "--serve-bare",
                str(port),
                "--api-url",
                fake.api_url,
                "--threads",
                str(threads),
            ]
            cwd = ROOT
        else:
            if name == "truce-sqlite":
                env["DATABASE_URL"] = f"sqlite:///{workdir / name / 'truce.db'}"
            else:
                from tests.pg import fresh_database

                env["DATABASE_URL"] = fresh_database(os.environ["TRUCE_TEST_POSTGRES_URL"])
            args = ["sh", "-c", procfile_web()]
            cwd = ROOT  # the Procfile runs from the project's root (the model artifact lives there)
        app = Served(name, args, env, port, workdir / f"{name}.log", cwd)
        app.wait_ready("/healthz" if name != "bare" else "/slack/events")
        fakes.append(fake)
        apps.append(app)
    return fakes, apps


def run(requests: int, rounds: int, concurrencies: list[int], warmup: int) -> dict:
    threads = Settings.web_threads
    workdir = Path(tempfile.mkdtemp(prefix="truce-ack-"))
    fakes, apps = start_apps(workdir, threads)
    results: dict = {app.name: {c: [] for c in concurrencies} for app in apps}
    checks: dict = {app.name: Counter() for app in apps}
    try:
        for fake, app in zip(fakes, apps, strict=True):  # warm up: imports, model, connections
            batch = signed_requests(warmup)
            started = time.time()
            fire(app.port, batch, 2)
            replies_check(fake, [ts for *_, ts in batch], started)
            fake.reset()
        for _ in range(rounds):
            for c in concurrencies:
                n = requests if c > 1 else max(50, requests // 3)
                for fake, app in zip(fakes, apps, strict=True):
                    batch = signed_requests(n)
                    started, cpu = time.time(), cpu_seconds(app.process.pid)
                    figures = fire(app.port, batch, c)
                    check = replies_check(fake, [ts for *_, ts in batch], started)
                    figures["replies_per_s"] = check.pop("replies_per_s")
                    figures["cpu_ms_per_mention"] = (cpu_seconds(app.process.pid) - cpu) * 1000 / n
                    checks[app.name].update(check)
                    results[app.name][c].append(figures)
                    fake.reset()
        pss = {app.name: pss_mb(app.process.pid) for app in apps}
        tracebacks = {app.name: app.log.read_text(errors="replace").count("Traceback") for app in apps}
    finally:
        for app in apps:
            app.stop()
        for fake in fakes:
            fake.stop()

    def med(name: str, c: int, key: str) -> float:
        return round(statistics.median(r[key] for r in results[name][c]), 2)

    report: dict = {
        "server": f"waitress, {threads} threads, one process, each app",
        "truce_command": procfile_web(),
        "requests_per_round": {c: (requests if c > 1 else max(50, requests // 3)) for c in concurrencies},
        "rounds": rounds,
        "apps": {},
        "ratios_truce_over_bare": {},
        "pss_mb_after_run": pss,
        "replies": {name: dict(check) for name, check in checks.items()},
        "tracebacks_in_log": tracebacks,
    }
    for app in apps:
        report["apps"][app.name] = {
            f"c={c}": {
                k: med(app.name, c, k)
                for k in ("p50_ms", "p90_ms", "p99_ms", "req_per_s", "replies_per_s", "cpu_ms_per_mention")
            }
            for c in concurrencies
        }
    for app in apps[1:]:
        report["ratios_truce_over_bare"][app.name] = {
            f"c={c}": {
                "p50_latency": round(
                    statistics.median(
                        t["p50_ms"] / b["p50_ms"]
                        for t, b in zip(results[app.name][c], results["bare"][c], strict=True)
                    ),
                    2,
                ),
                "throughput": round(
                    statistics.median(
                        t["req_per_s"] / b["req_per_s"]
                        for t, b in zip(results[app.name][c], results["bare"][c], strict=True)
                    ),
                    2,
                ),
            }
            for c in concurrencies
        }
    return report


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400, help="mentions per round at concurrency > 1")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=Settings.web_threads, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.api_url, args.threads)
        return None
    result = run(args.requests, args.rounds, args.concurrency, args.warmup)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
