"""Diagnosis counts written a moment later, many rows to a transaction.

An answer process (bot/answer_worker.py) counts every reply it posts. Written one by one, each count is
a transaction of its own that takes SQLite's write lock, which the web process needs for its exactly-once
claim before it may acknowledge Slack: under load, the two processes take turns at the lock and the
acknowledgements wait. Here the rows wait instead: a thread writes everything pending in one
transaction, at most `delay` seconds after the first row came, and `close()` writes the rest.

A count is a statistic (how often a cause came up), not a record anyone acts on: if the process is
killed outright, the last fraction of a second of counts is lost, and nothing else.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine
from sqlalchemy.sql.dml import Insert

logger = logging.getLogger(__name__)


class CountsBehind:
    def __init__(self, engine: Engine, statement: Insert, delay: float = 0.5):
        self._engine = engine
        self._statement = statement
        self._delay = delay
        self._rows: list[dict] = []
        self._lock = threading.Lock()
        self._pending = threading.Event()
        self._closing = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="truce-counts", daemon=True)
        self._thread.start()

    def add(self, row: dict) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("counts are closed")
            self._rows.append(row)
        self._pending.set()

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
            self._pending.clear()
        if not rows:
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(self._statement, rows)
        except Exception:
            logger.exception("could not record %d diagnosis counts", len(rows))

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._closing.set()
        self._pending.set()
        self._thread.join(10)
        self.flush()

    def _run(self) -> None:
        while not self._closing.is_set():
            self._pending.wait()
            self._closing.wait(self._delay)  # let the rows of the next moment join these
            self.flush()
