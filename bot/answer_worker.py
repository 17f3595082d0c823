"""Answering mentions and DMs in a process of its own, so the web process only acknowledges.

Diagnosing a message and building its reply costs a few milliseconds of CPU. Done on the web process's
threads, that work shares one interpreter lock with the threads acknowledging Slack's next requests, and
under load every acknowledgement waits for it (issue 12 measured it: 3x the bare Bolt app's latency).

This uses bolt-python's own mechanism for slow work elsewhere, the lazy listener (as its AWS Lambda
adapter does): the mention and DM listeners acknowledge in the web process and name a lazy function;
`ProcessLazyRunner` hands the request body and that name to an answer process over a pipe, and the answer
process dispatches it into its own Bolt app as a lazy-only request (`x-slack-bolt-lazy-only`), which runs
just that function. Message text only ever travels in memory, never through the database.

A request goes to the same process for the same channel, so a thread read there a moment ago is still in
that process's cache. If an answer process has died, it is started again; while it cannot be, answers run
on the web process's own threads, so nothing is dropped.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection

from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.lazy_listener.thread_runner import ThreadLazyListenerRunner
from slack_bolt.request import BoltRequest

from bot.settings import Settings

logger = logging.getLogger(__name__)

ANSWER_THREADS = 32  # per answer process: replies mostly wait on Slack, and may sit out a Retry-After
ANSWER_NICENESS = 5
START_SECONDS = 120  # loading the model and opening the database
_STOP = None
_READY = "ready"


def _lazy_request(name: str, body: dict) -> BoltRequest:
    """What the answer process dispatches: the verified body, marked to run only the named lazy function.
    (The web process checked the signature and claimed the delivery before handing it over.)"""
    return BoltRequest(
        body=body,
        headers={"x-slack-bolt-lazy-only": "1", "x-slack-bolt-lazy-function-name": name},
        mode="socket_mode",
    )


def _channel_of(body: dict) -> str:
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    return str(event.get("channel") or "")


class _Process:
    """One answer process and the web side of its pipe."""

    def __init__(self, settings: Settings, index: int):
        self.settings = settings
        self.index = index
        self.lock = threading.Lock()
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self.restarting = False

    def start(self) -> None:
        """Start the process and wait until it has loaded the model and can answer."""
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or sockets forked
        ours, theirs = context.Pipe()
        process = context.Process(
            target=serve_answers,
            args=(self.settings, theirs),
            name=f"truce-answers-{self.index}",
            daemon=True,
        )
        process.start()
        theirs.close()
        try:
            ready = ours.poll(START_SECONDS) and ours.recv() == _READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            process.kill()
            process.join(1)
            ours.close()
            raise RuntimeError(f"answer process {self.index} did not start (exit code {process.exitcode})")
        with self.lock:
            self.process, self.conn = process, ours

    def send(self, item) -> bool:
        """Hand `item` over; False when the process is gone (a new one is being started)."""
        with self.lock:
            if self.process is not None and self.process.is_alive():
                try:
                    self.conn.send(item)
                    return True
                except (OSError, ValueError):
                    pass
            if not self.restarting:
                self.restarting = True
                code = self.process.exitcode if self.process is not None else None
                logger.error("answer process %d is gone (exit code %s); starting a new one", self.index, code)
                threading.Thread(target=self._restart, name="truce-answers-restart", daemon=True).start()
            return False

    def _restart(self) -> None:
        try:
            self.start()
        except Exception:
            logger.exception("could not start answer process %d again", self.index)
        finally:
            with self.lock:
                self.restarting = False

    def stop(self, timeout: float) -> None:
        with self.lock:
            process, conn, self.process = self.process, self.conn, None
        if process is None:
            return
        try:
            conn.send(_STOP)
            conn.close()
        except (OSError, ValueError):
            pass
        process.join(timeout)
        if process.is_alive():
            logger.error("answer process %d did not finish in time; stopping it", self.index)
            process.kill()
            process.join(1)


class ProcessLazyRunner(LazyListenerRunner):
    """Bolt's lazy listener runner for the web process: lazy functions run in the answer processes."""

    def __init__(self, settings: Settings, processes: int, fallback: ThreadLazyListenerRunner):
        self.logger = logger
        self.fallback = fallback
        self.processes = [_Process(settings, i) for i in range(processes)]

    def start_processes(self) -> None:
        for process in self.processes:
            process.start()

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        body = request.body
        chosen = self.processes[zlib.crc32(_channel_of(body).encode()) % len(self.processes)]
        if not chosen.send((request.lazy_function_name, body)):
            self.fallback.start(function, request)  # answered here rather than not at all

    def stop(self, timeout: float) -> None:
        """Let each process finish what it was handed (within `timeout` seconds), then end it."""
        for process in self.processes:
            process.stop(timeout)


def use_answer_processes(app, settings: Settings) -> ProcessLazyRunner | None:
    """Make `app` (the web process's Bolt app) run its lazy listeners in answer processes, started now.
    None when settings ask for none: then they run on the app's own listener threads."""
    if settings.answer_processes < 1:
        return None
    runner = app.listener_runner
    current = runner.lazy_listener_runner
    fallback = (
        current
        if isinstance(current, ThreadLazyListenerRunner)
        else ThreadLazyListenerRunner(logger, runner.listener_executor)
    )
    process_runner = ProcessLazyRunner(settings, settings.answer_processes, fallback)
    try:
        process_runner.start_processes()
    except Exception:
        logger.exception("could not start the answer processes; the web process answers instead")
        process_runner.stop(1)
        return None
    runner.lazy_listener_runner = process_runner
    return process_runner


def serve_answers(settings: Settings, conn: Connection) -> None:
    """The answer process: its own Bolt app (same listeners, same model and database), dispatching each
    handed-over request as lazy-only on a pool of threads until the web process says stop or goes away."""
    # The web process decides when to stop (SIGTERM, Ctrl-C) and then lets this one finish its answers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from bot.app import create_app
    from bot.deps import build_deps
    from bot.logs import configure_logging

    configure_logging(
        settings.log_level,
        secrets=[settings.signing_secret or "", settings.pulse_hash_key, settings.client_secret or ""],
    )
    # Acknowledging Slack in time is the web process's job and answering can wait a moment: when the two
    # compete for the machine's cores, the web process goes first.
    os.nice(ANSWER_NICENESS)
    try:
        deps = build_deps(settings, counts_behind=True)
        app = create_app(settings, deps)
    except Exception:
        logger.exception("the answer process could not start")
        raise SystemExit(1) from None
    logger.info("Truce answer process ready")
    conn.send(_READY)
    pool = ThreadPoolExecutor(max_workers=ANSWER_THREADS, thread_name_prefix="truce-answer")

    def answer(name: str, body: dict) -> None:
        try:
            app.dispatch(_lazy_request(name, body))
        except Exception:
            logger.exception("could not answer a handed-over request")

    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            break  # the web process is gone: finish what was handed over
        if item is _STOP:
            break
        name, body = item
        pool.submit(answer, name, body)
    pool.shutdown(wait=True)
    deps.repo.close()
