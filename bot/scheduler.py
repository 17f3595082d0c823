"""The clock process (`python -m bot clock`) and the operator's jobs (`python -m bot pulse|checkins ...`).

Schedules live in the database, not in APScheduler: one interval job looks every minute for what is
due — polls to send, reminders, polls to close, experiment check-ins to post and close — so a restart
loses nothing, and a run missed while the process was down is sent once when it comes back (within
TRUCE_PULSE_GRACE_HOURS). Run exactly one clock; even if two run by mistake, the database claims keep
every post single.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime, timedelta

from bot.installations import Workspaces
from bot.presenters.experiments import ExperimentService
from bot.presenters.pulse import PulseService
from bot.services.pulse import DISCOVER_EVERY, Report
from bot.services.schedule import Schedule
from bot.settings import Settings
from bot.storage.workspace import Workspace

logger = logging.getLogger(__name__)

TICK_SECONDS = 60
# Workspaces handled at once in a tick: one waiting out a Retry-After holds up only its own thread.
CLOCK_WORKERS = 4
PRUNE_HANDLED_AFTER = timedelta(days=2)


def _configure_logging(settings: Settings) -> None:
    """Set up logging unless the host (a test runner, say) already has."""
    if logging.getLogger().handlers:
        return
    from bot.logs import configure_logging

    configure_logging(settings.log_level, secrets=settings.log_secrets)


def build_pulse_service(
    settings: Settings, sessions=None, workspace: Workspace | str | None = None, token: str | None = None
) -> PulseService:
    """The pulse of one workspace (every workspace's rows when `workspace` is None: exports only),
    posting with `token` (default: the single-workspace bot token)."""
    from bot.app import make_client
    from bot.storage.db import connect
    from bot.storage.pulse_repository import PulseRepository
    from model.playbook import load_playbook

    sessions = sessions or connect(settings.database_url)
    return PulseService(
        settings, PulseRepository(sessions, workspace), make_client(settings, token), load_playbook()
    )


def build_experiment_service(
    settings: Settings, sessions=None, workspace: Workspace | str | None = None, token: str | None = None
) -> ExperimentService:
    """The experiments of one workspace (check-ins it sends and closes are its own), posting with
    `token` (default: the single-workspace bot token)."""
    from bot.app import make_client
    from bot.storage.db import connect
    from bot.storage.experiment_repository import ExperimentRepository
    from model.playbook import load_playbook

    sessions = sessions or connect(settings.database_url)
    return ExperimentService(
        settings,
        ExperimentRepository(sessions),
        make_client(settings, token),
        load_playbook(),
        workspace=Workspace.of(workspace) if workspace is not None else None,
    )


def run_checkins_job(
    settings: Settings, action: str, channels: list[str] | None, team: str | None = None
) -> int:
    """`checkins send|close [--channel C ...] [--team T]`: what the clock does, right now and safe to
    repeat, in every installed workspace (or the one named, or the ones the named channels belong to),
    each with its own token.

    send: the check-in of every experiment that has none yet, even before its check-in date (one
    per experiment, ever); close: close every open check-in now and post its result.
    """

    def owners(sessions) -> set[str]:
        from bot.storage.experiment_repository import ExperimentRepository

        return ExperimentRepository(sessions).teams_of_channels(channels)

    def run(sessions, workspace: Workspace, token: str) -> Report:
        service = build_experiment_service(settings, sessions, workspace, token)
        now = service.clock()
        if action == "send":
            return service.send_due(now, force=True, channel_ids=channels)
        if action == "close":
            return service.close_due(now, force=True, channel_ids=channels)
        raise ValueError(f"unknown checkins action {action!r}")

    return _run_job(settings, "checkins", action, channels, team, owners, run)


def run_pulse_job(
    settings: Settings, action: str, channels: list[str] | None, team: str | None = None
) -> int:
    """`pulse send|close|remind [--channel C ...] [--team T]`: what the clock does, on demand and now,
    in every installed workspace (or the one named, or the ones the named channels belong to).

    send: this week's poll in every active channel (or the ones named) that has none yet;
    close: close every open poll now and post its summary; remind: the mid-way reminder now.
    Exit status 1 if something could not be done (it stays queued for the clock to retry).
    """

    def owners(sessions) -> set[str]:
        from bot.storage.pulse_repository import PulseRepository

        return {c.team_id for c in PulseRepository(sessions).channels(channels, active=False)}

    def run(sessions, workspace: Workspace, token: str) -> Report:
        service = build_pulse_service(settings, sessions, workspace, token)
        now = service.clock()
        if action == "send":
            return service.send_now(channels, now)
        if action == "close":
            return service.close_due(now, channel_ids=channels, force=True)
        if action == "remind":
            return service.remind_due(now, channel_ids=channels, force=True)
        raise ValueError(f"unknown pulse action {action!r}")

    return _run_job(settings, "pulse", action, channels, team, owners, run)


def _run_job(
    settings: Settings,
    job: str,
    action: str,
    channels: list[str] | None,
    team: str | None,
    owners: Callable[..., set[str]],
    run: Callable[..., Report],
) -> int:
    """An operator's job (`pulse` or `checkins`): `run(sessions, workspace, token)` in every installed
    workspace with a token: the one named by `team`, or those that `owners(sessions)` says own the
    named `channels`, or all. Prints the summed report; exit status 1 if something was not done."""
    from bot.storage.db import connect

    _configure_logging(settings)
    sessions = connect(settings.database_url)
    workspaces = Workspaces(settings, sessions)
    installed = workspaces.installed()
    if team is not None:
        chosen = [w for w in installed if w.team_id == team]
        if not chosen:
            logger.warning("%s: workspace %s has not installed Truce; nothing to do", job, team)
    elif channels:
        owning = owners(sessions)
        chosen = [w for w in installed if w.team_id in owning]
    else:
        chosen = installed
    total = Report()
    for workspace in chosen:
        token = workspaces.token(workspace)
        if token is None:
            continue
        total.counts.update(run(sessions, workspace, token).counts)
    print(f"{job} {action}: {total.line()}", file=sys.stderr)
    return 0 if total.ok else 1


class Clock:
    """One tick a minute: the workspaces with something due (pulse polls, experiment check-ins), each
    with its own token and its own Web API client (which waits out its own Retry-After), a few at a
    time, so that one slow or rate-limited workspace never holds up the others."""

    def __init__(self, settings: Settings, sessions, workers: int = CLOCK_WORKERS):
        from bot.storage.experiment_repository import ExperimentRepository
        from bot.storage.pulse_repository import PulseRepository

        self.settings = settings
        self.sessions = sessions
        self.workspaces = Workspaces(settings, sessions)
        self.index = PulseRepository(sessions)  # across workspaces: what is due where
        self.checkins_index = ExperimentRepository(sessions)  # check-ins to post or close, where
        self.workers = workers
        self.services: dict[str, PulseService] = {}
        self.experiments: dict[str, ExperimentService] = {}
        self.looked_at: dict[str, datetime] = {}  # when each workspace last had a full tick
        self.installed: list[Workspace] = []
        self.installed_at: datetime | None = None
        self._lock = threading.Lock()

    def due(self, now: datetime) -> list[Workspace]:
        """Workspaces with something due now, and those not looked at for an hour (to discover
        channels Truce was added to while nobody listened)."""
        if self.installed_at is None or now - self.installed_at >= DISCOVER_EVERY:
            self.installed, self.installed_at = self.workspaces.installed(), now
        found = {w.team_id: w for w in self.index.workspaces_due(now)}
        for workspace in self.checkins_index.workspaces_due(now):
            found.setdefault(workspace.team_id, workspace)
        for workspace in self.installed:
            seen = self.looked_at.get(workspace.team_id)
            if seen is None or now - seen >= DISCOVER_EVERY:
                found.setdefault(workspace.team_id, workspace)
        return [found[team] for team in sorted(found)]

    def _service(self, workspace: Workspace, token: str) -> PulseService:
        with self._lock:
            service = self.services.get(workspace.team_id)
            if service is None:
                service = build_pulse_service(self.settings, self.sessions, workspace, token)
                self.services[workspace.team_id] = service
        service.client.token = token  # a rotated token replaces the old one
        return service

    def _experiments(self, workspace: Workspace, token: str) -> ExperimentService:
        with self._lock:
            service = self.experiments.get(workspace.team_id)
            if service is None:
                service = build_experiment_service(self.settings, self.sessions, workspace, token)
                self.experiments[workspace.team_id] = service
        service.client.token = token
        return service

    def tick_workspace(self, workspace: Workspace, now: datetime, stopping=None) -> Report:
        try:
            token = self.workspaces.token(workspace)
        except Exception as exc:
            logger.error("clock: no token for workspace %s (%s); skipped", workspace, type(exc).__name__)
            return Report(counts=Counter(failed=1))
        if token is None:  # uninstalled: its rows are gone or going; nothing to post with
            with self._lock:
                self.services.pop(workspace.team_id, None)
                self.experiments.pop(workspace.team_id, None)
            return Report()
        service = self._service(workspace, token)
        report = service.tick(now, stopping=stopping)
        self.looked_at[workspace.team_id] = now
        if not (stopping and stopping.is_set()):
            self._plan(service, now)
        if not (stopping and stopping.is_set()):
            # The workspace's experiment check-ins, with the same token; counted apart from polls.
            checkins = self._experiments(workspace, token).tick(now, stopping=stopping)
            for outcome, count in checkins.counts.items():
                report.counts["failed" if outcome == "failed" else f"check-ins {outcome}"] += count
        return report

    def _plan(self, service: PulseService, now: datetime) -> None:
        """Write down when each channel is next due. A channel whose current run is within the grace
        period and still has no poll (a failed claim, say) is looked at again next tick."""
        channels = service.repo.channels()
        current = {c.channel_id: Schedule.of(c).period_of(Schedule.of(c).last_run(now)) for c in channels}
        taken = service.repo.periods_taken(current, current.values()) if current else set()
        plan: dict[str, datetime | None] = {}
        for channel in channels:
            schedule = Schedule.of(channel)
            run = schedule.last_run(now)
            waiting = (
                now - run <= service.grace
                and not (channel.active_since and run < channel.active_since)
                and (channel.channel_id, current[channel.channel_id]) not in taken
            )
            plan[channel.channel_id] = None if waiting else schedule.next_run(now)
        service.repo.set_next_checks(plan)

    def tick(self, now: datetime | None = None, stopping: threading.Event | None = None) -> Report:
        now = now or datetime.now(UTC)
        total = Report()
        due = self.due(now)
        if not due:
            return total
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="truce-clock") as pool:
            futures = {pool.submit(self.tick_workspace, w, now, stopping): w for w in due}
            for future in as_completed(futures):
                try:
                    total.counts.update(future.result().counts)
                except Exception:
                    logger.exception("clock: workspace %s failed; the next tick tries again", futures[future])
                    total.add("failed")
        return total


def run_clock(settings: Settings) -> int:
    """The one scheduler process. Stops cleanly on SIGTERM/SIGINT, within seconds."""
    from apscheduler.schedulers.base import SchedulerNotRunningError
    from apscheduler.schedulers.blocking import BlockingScheduler

    from bot.storage.db import connect
    from bot.storage.repository import Repository

    _configure_logging(settings)
    sessions = connect(settings.database_url)
    clock = Clock(settings, sessions)
    handled = Repository(sessions)
    stopping = threading.Event()

    def tick() -> None:
        try:
            report = clock.tick(stopping=stopping)
            if report.counts:
                logger.info("clock: %s", report.line())
        except Exception:
            logger.exception("clock: tick failed; the next one tries again")

    def prune() -> None:
        try:
            handled.prune_handled(datetime.now(UTC) - PRUNE_HANDLED_AFTER)
        except Exception:
            logger.exception("clock: could not prune old delivery records")

    scheduler = BlockingScheduler(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": TICK_SECONDS}
    )
    scheduler.add_job(tick, "interval", seconds=TICK_SECONDS, next_run_time=datetime.now(UTC), id="pulse")
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
