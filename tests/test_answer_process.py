"""The web process acknowledges; an answer process beside it diagnoses and posts (bot/answer_worker.py)."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.storage.counts_behind import CountsBehind
from bot.storage.db import connect
from bot.storage.models import DiagnosisEvent
from bot.storage.repository import _RECORD_DIAGNOSIS
from tests.conftest import start_web_server, wait_until
from tests.slack import mention_event, post_signed_json

LEADS = "the leads from the webinar are junk again, half of them are students"


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == pid:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append((int(entry.name), cmdline))
        except (OSError, IndexError, ValueError):
            continue
    return found


def answer_processes(pid: int) -> list[int]:
    return [child for child, cmdline in children(pid) if "-m bot answers" in cmdline]


def dead(pid: int) -> bool:
    """Gone, or a zombie with no thread left (so its end of the pipe is closed), not yet reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state in ("Z", "X") and len(list(Path(f"/proc/{pid}/task").iterdir())) <= 1
    except OSError:
        return True


def replies_to(slack_api, payload: dict) -> list:
    ts = payload["event"]["ts"]
    return [c for c in slack_api.calls_to("chat.postMessage") if c.params.get("thread_ts") == ts]


def ask(server, slack_api, text: str = LEADS, channel: str = "C0SALESMKT") -> dict:
    payload = mention_event(text, channel=channel)
    assert post_signed_json(server.events_url, payload).status == 200
    assert wait_until(lambda: replies_to(slack_api, payload)), "the mention was not answered"
    time.sleep(0.3)  # a second reply would have arrived by now
    (reply,) = replies_to(slack_api, payload)
    return reply.params


@pytest.fixture
def server(module_fake_slack, tmp_path, artifact):
    module_fake_slack.reset()
    web = start_web_server(module_fake_slack, tmp_path, artifact)
    yield web
    web.stop()


def test_mentions_are_answered_by_the_answer_process_beside_the_web_process(server, module_fake_slack):
    (worker,) = answer_processes(server.process.pid)
    assert "Truce answer process ready" in server.logs()
    reply = ask(server, module_fake_slack)
    assert "lead" in reply["text"].lower() and reply["channel"] == "C0SALESMKT"
    # The count of that diagnosis reaches the database a moment later, once.
    sessions = connect(server.db_url)

    def counted() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(DiagnosisEvent))

    assert wait_until(lambda: counted() == 1)
    # SIGTERM: the web process stops its answer process before it exits.
    assert server.stop() == 0
    assert wait_until(lambda: dead(worker), timeout=5)


def test_a_dead_answer_process_loses_no_mention_and_is_replaced(server, module_fake_slack):
    (first,) = answer_processes(server.process.pid)
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: dead(first))
    # Answered anyway (by the web process itself while a new answer process starts), exactly once.
    reply = ask(server, module_fake_slack, "marketing changed the pricing page and never told sales")
    assert "pric" in reply["text"].lower()
    assert "answer process 0 is gone" in server.logs()
    replaced = wait_until(lambda: [pid for pid in answer_processes(server.process.pid) if pid != first])
    assert replaced, "no new answer process was started"
    assert wait_until(lambda: server.logs().count("Truce answer process ready") == 2)
    # And the new one answers the next mentions.
    ask(server, module_fake_slack, "who owns the battlecards? product marketing or enablement?")
    assert "Traceback" not in server.logs()


def test_with_no_answer_process_the_web_process_answers(module_fake_slack, tmp_path, artifact):
    module_fake_slack.reset()
    web = start_web_server(module_fake_slack, tmp_path, artifact, WEB_ANSWER_PROCESSES="0")
    try:
        assert answer_processes(web.process.pid) == []
        reply = ask(web, module_fake_slack)
        assert "lead" in reply["text"].lower()
    finally:
        web.stop()


def test_counts_written_behind_arrive_together_and_close_writes_the_rest(tmp_path):
    sessions = connect(f"sqlite:///{tmp_path / 'counts.db'}")
    engine = sessions.kw["bind"]

    def counted() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(DiagnosisEvent))

    def row(i: int) -> dict:
        return {
            "label": "lead_quality",
            "surface": "mention",
            "channel_id": f"C{i:04d}",
            "created_at": datetime.now(UTC),
            "team_id": "T1",
            "enterprise_id": None,
        }

    counts = CountsBehind(engine, _RECORD_DIAGNOSIS, delay=0.1)
    threads = [threading.Thread(target=lambda i=i: counts.add(row(i))) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wait_until(lambda: counted() == 40, timeout=5)

    # With a long delay, nothing is written until close(), which writes everything at once.
    slow = CountsBehind(engine, _RECORD_DIAGNOSIS, delay=60)
    for i in range(5):
        slow.add(row(100 + i))
    time.sleep(0.3)
    assert counted() == 40
    slow.close()
    assert counted() == 45
    with pytest.raises(RuntimeError):
        slow.add(row(999))
