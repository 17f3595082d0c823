"""What handlers need, built once per process and handed to `create_app` explicitly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from slack_sdk import WebClient
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
        return PulseRepository(self.sessions)

    def pulse(self, client: WebClient) -> PulseService:
        """The pulse lifecycle, posting through `client` (the listener's own)."""
        return PulseService(self.settings, self.pulse_repo, client, self.playbook, clock=self.clock)

    @property
    def experiment_repo(self) -> ExperimentRepository:
        return ExperimentRepository(self.sessions)

    def experiments(self, client: WebClient) -> ExperimentService:
        """Experiments (Try, check-ins, effects), posting through `client`."""
        return ExperimentService(self.settings, self.experiment_repo, client, self.playbook, clock=self.clock)


def build_deps(settings: Settings, classifier: Classifier | None = None) -> Deps:
    """Load the model and open the database. Raises ModelError / DatabaseError with one-line reasons."""
    classifier = classifier or Classifier.load(settings.model_path or DEFAULT_ARTIFACT)
    sessions = connect(settings.database_url)
    return Deps(
        settings=settings,
        playbook=load_playbook(),
        classifier=classifier,
        sessions=sessions,
        repo=Repository(sessions),
    )
