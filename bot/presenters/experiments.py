"""Experiments as Slack sees them: `BlockKitExperiments` turns ExperimentService's data into messages
(bot/views/experiments.py), and `ExperimentService` here is the lifecycle wired with it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient

from bot.services import experiments as lifecycle
from bot.services.experiments import ExperimentCard
from bot.services.pulse import utc_now
from bot.settings import Settings
from bot.storage.experiment_repository import ExperimentRepository
from bot.storage.workspace import Workspace
from bot.views import experiments as views
from bot.views.pulse import when
from model.playbook import Playbook


class BlockKitExperiments:
    """An ExperimentPresenter (bot/services/experiments.py) that speaks Block Kit."""

    def __init__(self, playbook: Playbook):
        self.playbook = playbook

    def announcement(self, card: ExperimentCard) -> dict:
        return views.announcement_message(card)

    def checkin(self, checkin_id: int, card: ExperimentCard, closes_at: datetime) -> dict:
        return views.checkin_message(checkin_id, card, closes_at, when(closes_at, card.timezone))

    def closed_checkin(self, card: ExperimentCard) -> dict:
        return views.closed_checkin_message(card)

    def result(self, card: ExperimentCard) -> dict:
        return views.result_message(card, self.playbook)


class ExperimentService(lifecycle.ExperimentService):
    """The experiment lifecycle posting Block Kit messages built from `playbook`."""

    def __init__(
        self,
        settings: Settings,
        repo: ExperimentRepository,
        client: WebClient,
        playbook: Playbook,
        clock: Callable[[], datetime] = utc_now,
        workspace: Workspace | None = None,
    ):
        super().__init__(
            settings, repo, client, BlockKitExperiments(playbook), clock=clock, workspace=workspace
        )
        self.playbook = playbook
