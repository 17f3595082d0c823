"""Answering mentions and DMs in a process of its own, so the web process only acknowledges.

Diagnosing a message and building its reply costs a few milliseconds of CPU. Done on the web process's
threads, that work shares one interpreter lock with the threads acknowledging Slack's next requests, and
under load every acknowledgement waits for it (issue 12 measured it: 3x the bare Bolt app's latency).

This uses bolt-python's own mechanism for slow work elsewhere, the lazy listener (as its AWS Lambda
adapter does): the mention and DM listeners acknowledge in the web process and name a lazy function;
`ProcessLazyRunner` hands the request body and that name to an answer process (`python -m bot answers`,
started by the web process) as one JSON line on its standard input, and the answer process dispatches it
into its own Bolt app as a lazy-only request (`x-slack-bolt-lazy-only`), which runs just that function.
Message text only ever travels in memory, never through the database or a log.

A request goes to the same process for the same channel, so a thread read there a moment ago is still in
that process's cache. A request thread only queues the hand-over; one thread per answer process writes
to its pipe. If an answer process dies, what could not be handed over is answered on the web process's
own threads while a new one starts; a request handed over in the instant the process died is lost (it was
acknowledged: Slack does not send it again).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.lazy_listener.thread_runner import ThreadLazyListenerRunner
from slack_bolt.request import BoltRequest

from bot.settings import Settings

logger = logging.getLogger(__name__)

ANSWER_THREADS = 32  # per answer process: replies mostly wait on Slack, and may sit out a Retry-After
ANSWER_NICENESS = 19  # when the processes compete for cores, acknowledging goes first
START_SECONDS = 120  # loading the model and opening the database
READY = b"ready\n"
_STOP = object()


def lazy_request(name: str, body: dict) -> BoltRequest:
    """What the answer process dispatches: the verified body, marked to run only the named lazy function.
    (The web process checked the signature and claimed the delivery before handing it over.)"""
    return BoltRequest(
        body=body,
        headers={"x-slack-bolt-lazy-only": "1", "x-slack-bolt-lazy-function-name": name},
        mode="socket_mode",
    )


def _channel_of(body: dict) -> str:
    event = body.get("event")
    return str(event.get("channel") or "") if isinstance(event, dict) else ""


class _AnswerProcess:
    """One answer process, the queue of what is to be handed to it, and the thread that hands it over."""

    def __init__(self, index: int, fallback: ThreadLazyListenerRunner):
        self.index = index
        self.fallback = fallback
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.process: subprocess.Popen | None = None
        self.failed = False  # could not be started again: the web process answers from now on
        self.sender: threading.Thread | None = None

    def open(self) -> None:
        self._start()
        self.sender = threading.Thread(
            target=self._hand_over, name=f"truce-handover-{self.index}", daemon=True
        )
        self.sender.start()

    def _start(self) -> None:
        """Start `python -m bot answers` and wait until it has loaded the model and can answer."""
        ready_read, ready_write = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "answers", "--ready-fd", str(ready_write)],
                stdin=subprocess.PIPE,
                pass_fds=(ready_write,),
                start_new_session=False,
            )
        finally:
            os.close(ready_write)
        try:
            # The line arrives when the process is ready; end of file when it failed to start.
            readable, _, _ = select.select([ready_read], [], [], START_SECONDS)
            said = os.read(ready_read, len(READY)) if readable else b""
        finally:
            os.close(ready_read)
        if said != READY:
            process.kill()
            process.wait(5)
            raise RuntimeError(f"answer process {self.index} did not start (exit code {process.returncode})")
        self.process = process

    def submit(self, function: Callable[..., None], request: BoltRequest) -> None:
        if self.failed:
            self.fallback.start(function, request)
        else:
            self.queue.put((function, request))

    def _hand_over(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                self._close_pipe()
                return
            function, request = item
            if self._write(request):
                continue
            self.fallback.start(function, request)  # answered here rather than not at all
            self._replace()

    def _write(self, request: BoltRequest) -> bool:
        process = self.process
        if process is None or process.poll() is not None:
            return False
        line = json.dumps([request.lazy_function_name, request.body], separators=(",", ":")) + "\n"
        try:
            process.stdin.write(line.encode("utf-8"))
            process.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def _replace(self) -> None:
        old = self.process
        if old is None:
            return
        logger.error("answer process %d is gone (exit code %s); starting a new one", self.index, old.poll())
        self._close_pipe()
        self.process = None
        try:
            self._start()
        except Exception:
            logger.exception("could not start answer process %d again; the web process answers", self.index)
            self.failed = True
            while True:  # what was queued meanwhile is answered here too
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    return
                if item is _STOP:
                    self.queue.put(_STOP)
                    return
                self.fallback.start(*item)

    def _close_pipe(self) -> None:
        process = self.process
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):  # end of input: the answer process finishes, then exits
                process.stdin.close()

    def stop(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.queue.put(_STOP)
        if self.sender is not None:
            self.sender.join(timeout)
        process = self.process
        if process is None:
            return
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.error("answer process %d did not finish in time; stopping it", self.index)
            process.kill()
            process.wait(1)


class ProcessLazyRunner(LazyListenerRunner):
    """Bolt's lazy listener runner for the web process: lazy functions run in the answer processes."""

    def __init__(self, processes: int, fallback: ThreadLazyListenerRunner):
        self.logger = logger
        self.processes = [_AnswerProcess(i, fallback) for i in range(processes)]

    def open(self) -> None:
        for process in self.processes:
            process.open()

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        index = zlib.crc32(_channel_of(request.body).encode()) % len(self.processes)
        self.processes[index].submit(function, request)

    def stop(self, timeout: float) -> None:
        """Hand over what is queued, let each process finish its answers (within `timeout` s), end it."""
        for process in self.processes:
            process.stop(timeout)


def use_answer_processes(app, settings: Settings) -> ProcessLazyRunner | None:
    """Make `app` (the web process's Bolt app) run its lazy listeners in answer processes, started now.
    None when settings ask for none or they cannot start: then they run on the app's listener threads."""
    if settings.answer_processes < 1:
        return None
    runner = app.listener_runner
    fallback = runner.lazy_listener_runner
    if not isinstance(fallback, ThreadLazyListenerRunner):
        fallback = ThreadLazyListenerRunner(logger, runner.listener_executor)
    answers = ProcessLazyRunner(settings.answer_processes, fallback)
    try:
        answers.open()
    except Exception:
        logger.exception("could not start the answer processes; the web process answers instead")
        answers.stop(1)
        return None
    runner.lazy_listener_runner = answers
    return answers


def settle_memory() -> None:
    """Once started: move everything loaded so far (the model's vocabularies above all) out of the
    cyclic garbage collector's sight. A full collection walked those 80,000 objects in about 50 ms, with
    the interpreter lock held: every request in flight waited (the acknowledgement p99 in `bench.ack`).
    They live as long as the process, so there is nothing in them to collect."""
    gc.collect()
    gc.freeze()


def serve_answers(settings: Settings, lines: IO[bytes], ready_fd: int) -> int:
    """`python -m bot answers`: its own Bolt app (same listeners, same model and database), dispatching each
    request handed over on `lines` as lazy-only, on a pool of threads, until the input ends."""
    # The web process decides when to stop (SIGTERM, Ctrl-C) and then lets this one finish its answers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(ANSWER_NICENESS)
    from bot.app import create_app
    from bot.deps import build_deps
    from bot.logs import configure_logging

    configure_logging(settings.log_level, secrets=settings.log_secrets)
    deps = build_deps(settings, counts_behind=True)
    app = create_app(settings, deps)
    pool = ThreadPoolExecutor(max_workers=ANSWER_THREADS, thread_name_prefix="truce-answer")

    def answer(name: str, body: dict) -> None:
        try:
            app.dispatch(lazy_request(name, body))
        except Exception:
            logger.exception("could not answer a handed-over request")

    settle_memory()
    logger.info("Truce answer process ready")
    os.write(ready_fd, READY)
    os.close(ready_fd)
    for line in lines:
        try:
            name, body = json.loads(line)
        except (ValueError, TypeError):
            logger.error("an unreadable hand-over was ignored")
            continue
        pool.submit(answer, name, body)
    pool.shutdown(wait=True)
    deps.repo.close()
    return 0
