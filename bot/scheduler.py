"""The clock process (`python -m bot clock`) and the operator's jobs (`python -m bot pulse|checkins ...`).

Schedules live in the database, not in APScheduler: one interval job looks every minute for what is
due — polls to send, reminders, polls to close — so a restart loses nothing, and a run missed while
the process was down is sent once when it comes back (within TRUCE_PULSE_GRACE_HOURS). Run exactly
one clock; even if two run by mistake, the database claims keep every post single.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta

from bot.presenters.experiments import ExperimentService
from bot.presenters.pulse import PulseService
from bot.settings import Settings

logger = logging.getLogger(__name__)

TICK_SECONDS = 60
PRUNE_HANDLED_AFTER = timedelta(days=2)


def _configure_logging(settings: Settings) -> None:
    """Set up logging unless the host (a test runner, say) already has."""
    if logging.getLogger().handlers:
        return
    from bot.logs import configure_logging

    configure_logging(settings.log_level, secrets=[settings.pulse_hash_key])


def build_pulse_service(settings: Settings, sessions=None) -> PulseService:
    from bot.app import make_client
    from bot.storage.db import connect
    from bot.storage.pulse_repository import PulseRepository
    from model.playbook import load_playbook

    sessions = sessions or connect(settings.database_url)
    return PulseService(settings, PulseRepository(sessions), make_client(settings), load_playbook())


def build_experiment_service(settings: Settings, sessions=None) -> ExperimentService:
    from bot.app import make_client
    from bot.storage.db import connect
    from bot.storage.experiment_repository import ExperimentRepository
    from model.playbook import load_playbook

    sessions = sessions or connect(settings.database_url)
    return ExperimentService(settings, ExperimentRepository(sessions), make_client(settings), load_playbook())


def run_checkins_job(settings: Settings, action: str, channels: list[str] | None) -> int:
    """`checkins send|close [--channel C ...]`: what the clock does, right now and safe to repeat.

    send: the check-in of every experiment that has none yet, even before its check-in date (one
    per experiment, ever); close: close every open check-in now and post its result.
    """
    _configure_logging(settings)
    service = build_experiment_service(settings)
    now = service.clock()
    if action == "send":
        report = service.send_due(now, force=True, channel_ids=channels)
    elif action == "close":
        report = service.close_due(now, force=True, channel_ids=channels)
    else:
        raise ValueError(f"unknown checkins action {action!r}")
    print(f"checkins {action}: {report.line()}", file=sys.stderr)
    return 0 if report.ok else 1


def run_pulse_job(settings: Settings, action: str, channels: list[str] | None) -> int:
    """`pulse send|close|remind [--channel C ...]`: what the clock does, on demand and right now.

    send: this week's poll in every active channel (or the ones named) that has none yet;
    close: close every open poll now and post its summary; remind: the mid-way reminder now.
    Exit status 1 if something could not be done (it stays queued for the clock to retry).
    """
    _configure_logging(settings)
    service = build_pulse_service(settings)
    now = service.clock()
    if action == "send":
        report = service.send_now(channels, now)
    elif action == "close":
        report = service.close_due(now, channel_ids=channels, force=True)
    elif action == "remind":
        report = service.remind_due(now, channel_ids=channels, force=True)
    else:
        raise ValueError(f"unknown pulse action {action!r}")
    print(f"pulse {action}: {report.line()}", file=sys.stderr)
    return 0 if report.ok else 1


def run_clock(settings: Settings) -> int:
    """The one scheduler process. Stops cleanly on SIGTERM/SIGINT, within seconds."""
    from apscheduler.schedulers.base import SchedulerNotRunningError
    from apscheduler.schedulers.blocking import BlockingScheduler

    from bot.storage.db import connect
    from bot.storage.repository import Repository

    _configure_logging(settings)
    sessions = connect(settings.database_url)
    service = build_pulse_service(settings, sessions)
    experiments = build_experiment_service(settings, sessions)
    handled = Repository(sessions)
    stopping = threading.Event()

    def tick() -> None:
        try:
            report = service.tick(stopping=stopping)
            if report.counts:
                logger.info("clock: %s", report.line())
        except Exception:
            logger.exception("clock: tick failed; the next one tries again")

    def checkins() -> None:
        try:
            report = experiments.tick(stopping=stopping)
            if report.counts:
                logger.info("clock: check-ins: %s", report.line())
        except Exception:
            logger.exception("clock: check-in tick failed; the next one tries again")

    def prune() -> None:
        try:
            handled.prune_handled(datetime.now(UTC) - PRUNE_HANDLED_AFTER)
        except Exception:
            logger.exception("clock: could not prune old delivery records")

    scheduler = BlockingScheduler(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": TICK_SECONDS}
    )
    scheduler.add_job(tick, "interval", seconds=TICK_SECONDS, next_run_time=datetime.now(UTC), id="pulse")
    scheduler.add_job(
        checkins, "interval", seconds=TICK_SECONDS, next_run_time=datetime.now(UTC), id="checkins"
    )
    scheduler.add_job(prune, "interval", hours=6, next_run_time=datetime.now(UTC), id="prune")

    def stop(signum, _frame) -> None:
        logger.info("clock: %s received, stopping", signal.Signals(signum).name)
        stopping.set()  # a tick in progress stops between channels
        with contextlib.suppress(SchedulerNotRunningError):
            scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info(
        "clock: started; checking every %ds for due polls (grace %.0fh)",
        TICK_SECONDS,
        settings.pulse_grace_hours,
    )
    scheduler.start()
    logger.info("clock: stopped")
    return 0
