"""The weekly pulse as Slack sees it: `BlockKitPulse` turns PulseService's data into messages (via the
pure builders in bot/views/pulse.py) and the trend chart, and `PulseService` here is the lifecycle
wired with it — what the web process, the clock and the operator commands run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from slack_sdk import WebClient

from bot.services import pulse as lifecycle
from bot.services.chart import trend_chart
from bot.services.experiments import ExperimentCard, ExperimentInsights
from bot.services.pulse import PollCard, PulseSummary, ReminderCard, Upload, utc_now
from bot.services.schedule import period_key
from bot.settings import Settings
from bot.storage.experiment_repository import ExperimentRepository, PollFigures
from bot.storage.pulse_repository import PulseRepository
from bot.views import pulse as views
from bot.views.experiments import day_text, effect_lines
from model.playbook import Playbook

logger = logging.getLogger(__name__)


class BlockKitPulse:
    """A PulsePresenter (bot/services/pulse.py) that speaks Block Kit."""

    def __init__(
        self,
        playbook: Playbook,
        experiments: Callable[[PulseSummary], Sequence[ExperimentCard]] | None = None,
    ):
        self.playbook = playbook
        # The remedies the channel is trying, for effect lines and chart markers.
        self.experiments = experiments or (lambda summary: ())

    def poll(self, card: PollCard) -> dict:
        return views.poll_message(card.poll_id, self.playbook, card.responses, card.closes_at, card.timezone)

    def reminder(self, card: ReminderCard) -> dict:
        return views.reminder_message(card.responses, card.closes_at, card.timezone, card.min_responses)

    def summary(self, summary: PulseSummary) -> dict:
        effects = [line for card in self.experiments(summary) for line in effect_lines(card, self.playbook)]
        return views.summary_message(
            summary.results, summary.points, self.playbook, summary.period_key, effects[:5]
        )

    def closed_poll(self, responses: int) -> dict:
        return views.closed_poll_message(responses)

    def chart(self, summary: PulseSummary) -> Upload | None:
        points = summary.points
        if not any(p.avg_score is not None for p in points):
            return None
        return Upload(
            content=trend_chart(
                points,
                [
                    (period_key(c.started_on), f"{c.remedy[:24]} ({day_text(c.started_on)})")
                    for c in self.experiments(summary)
                ],
            ),
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
        insights = ExperimentInsights(settings, ExperimentRepository(repo._sessions), clock)
        super().__init__(
            settings, repo, client, BlockKitPulse(playbook, self._experiments_for(insights)), clock=clock
        )
        self.playbook = playbook

    def _experiments_for(
        self, insights: ExperimentInsights
    ) -> Callable[[PulseSummary], list[ExperimentCard]]:
        def experiments(summary: PulseSummary) -> list[ExperimentCard]:
            """The channel's recent experiments; the poll being closed counts when it is published."""
            poll = summary.poll
            channel = self.repo.channel(poll.channel_id)
            if channel is None or not channel.team_id:
                return []
            current = None
            if summary.results.shown and poll.status != "closed":  # a closed one is already counted
                answers = self.repo.answers(poll.id)
                current = PollFigures(
                    poll.opened_at,
                    tuple(a.score for a in answers if a.score is not None),
                    tuple(a.cause for a in answers if a.cause),
                )
            now = poll.closed_at or self.clock()
            try:
                return insights.recent(channel.team_id, poll.channel_id, now, current=current)
            except Exception:  # the summary goes out without effect lines rather than not at all
                logger.exception("pulse: could not read the experiments of %s", poll.channel_id)
                return []

        return experiments
