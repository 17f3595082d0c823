"""The weekly pulse as Slack sees it: `BlockKitPulse` turns PulseService's data into messages (via the
pure builders in bot/views/pulse.py) and the trend chart, and `PulseService` here is the lifecycle
wired with it — what the web process, the clock and the operator commands run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient

from bot.services import pulse as lifecycle
from bot.services.chart import trend_chart
from bot.services.pulse import PollCard, PulseSummary, ReminderCard, Upload, utc_now
from bot.settings import Settings
from bot.storage.pulse_repository import PulseRepository
from bot.views import pulse as views
from model.playbook import Playbook


class BlockKitPulse:
    """A PulsePresenter (bot/services/pulse.py) that speaks Block Kit."""

    def __init__(self, playbook: Playbook):
        self.playbook = playbook

    def poll(self, card: PollCard) -> dict:
        return views.poll_message(card.poll_id, self.playbook, card.responses, card.closes_at, card.timezone)

    def reminder(self, card: ReminderCard) -> dict:
        return views.reminder_message(card.responses, card.closes_at, card.timezone, card.min_responses)

    def summary(self, summary: PulseSummary) -> dict:
        return views.summary_message(summary.results, summary.points, self.playbook, summary.period_key)

    def closed_poll(self, responses: int) -> dict:
        return views.closed_poll_message(responses)

    def chart(self, summary: PulseSummary) -> Upload | None:
        points = summary.points
        if not any(p.avg_score is not None for p in points):
            return None
        return Upload(
            content=trend_chart(points),
            filename=f"pulse-trend-{summary.period_key}.png",
            title="Pulse score, last 8 weeks",
            alt_text=views.trend_alt_text(points),
        )


class PulseService(lifecycle.PulseService):
    """The pulse lifecycle posting Block Kit messages built from `playbook`."""

    def __init__(
        self,
        settings: Settings,
        repo: PulseRepository,
        client: WebClient,
        playbook: Playbook,
        clock: Callable[[], datetime] = utc_now,
    ):
        super().__init__(settings, repo, client, BlockKitPulse(playbook), clock=clock)
        self.playbook = playbook
