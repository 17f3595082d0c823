"""What handlers need, built once per process and handed to `create_app` explicitly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import InstallationStore
from sqlalchemy.orm import Session, sessionmaker

from bot.presenters.experiments import ExperimentService
from bot.presenters.pulse import PulseService
from bot.services.ask import Asking
from bot.services.conversation import ConversationReader
from bot.services.diagnose import Diagnoser
from bot.settings import Settings
from bot.storage.db import connect
from bot.storage.experiment_repository import ExperimentRepository
from bot.storage.pulse_repository import PulseRepository
from bot.storage.repository import Repository
from bot.storage.workspace import Workspace
from model.playbook import Playbook, load_playbook
from model.predict import DEFAULT_ARTIFACT, Classifier

DIAGNOSES_AT_ONCE = 2  # per process; see Diagnoser


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    settings: Settings
    playbook: Playbook
    classifier: Classifier
    sessions: sessionmaker[Session]
    repo: Repository
    # The installations of an "Add to Slack" app (None with a single bot token).
    installations: InstallationStore | None = None
    clock: Callable[[], datetime] = field(default=utc_now)
    # Threads read in the last minute, in memory only (see bot/services/conversation.py).
    reader: ConversationReader = field(default_factory=ConversationReader)
    diagnosing: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(DIAGNOSES_AT_ONCE)
    )

    @property
    def diagnoser(self) -> Diagnoser:
        return Diagnoser(self.classifier, self.playbook, self.diagnosing)

    @property
    def asking(self) -> Asking:
        return Asking(self.diagnoser, self.reader)

    @property
    def pulse_repo(self) -> PulseRepository:
        """Every workspace's pulse rows (operator exports and tests); listeners use `pulse_of`."""
        return PulseRepository(self.sessions)

    def pulse_of(self, workspace: Workspace | str | None) -> PulseRepository:
        """One workspace's pulse rows: nothing another workspace wrote is visible through it."""
        return PulseRepository(self.sessions, workspace)

    def pulse(self, client: WebClient, workspace: Workspace | str | None = None) -> PulseService:
        """One workspace's pulse lifecycle, posting through `client` (the listener's own, which
        carries that workspace's token)."""
        return PulseService(self.settings, self.pulse_of(workspace), client, self.playbook, clock=self.clock)

    @property
    def experiment_repo(self) -> ExperimentRepository:
        return ExperimentRepository(self.sessions)

    def experiments(self, client: WebClient) -> ExperimentService:
        """Experiments (Try, check-ins, effects), posting through `client`."""
        return ExperimentService(self.settings, self.experiment_repo, client, self.playbook, clock=self.clock)


def build_deps(settings: Settings, classifier: Classifier | None = None, counts_behind: bool = False) -> Deps:
    """Load the model and open the database. Raises ModelError / DatabaseError with one-line reasons.
    `counts_behind`: diagnosis counts are written in batches (an answer process; see Repository)."""
    classifier = classifier or Classifier.load(settings.model_path or DEFAULT_ARTIFACT)
    sessions = connect(settings.database_url)
    installations = None
    if settings.oauth:
        from bot.installations import installation_store

        installations = installation_store(settings, sessions.kw["bind"])
    return Deps(
        settings=settings,
        playbook=load_playbook(),
        classifier=classifier,
        sessions=sessions,
        repo=Repository(sessions, counts_behind=counts_behind),
        installations=installations,
    )
