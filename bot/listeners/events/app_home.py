"""app_home_opened: publish the viewer's App Home (playbook, pulse trends, counts, their settings)."""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk import WebClient

from bot.deps import Deps
from bot.services.experiments import ExperimentInsights
from bot.storage.workspace import Workspace
from bot.views.home import HomeData, home_error_view, home_view
from bot.views.validate import view_problems

CHANNEL_TYPES = "public_channel,private_channel"
MAX_CHANNEL_PAGES = 10  # 2,000 channels is plenty for "the channels you are in"
DAYS = 30
WEEKS = 8
EXPERIMENTS = 8


def viewer_channels(client: WebClient, user: str) -> frozenset[str]:
    """The conversations the viewer is in that Truce can see. Raises SlackApiError."""
    found: set[str] = set()
    cursor = None
    for _ in range(MAX_CHANNEL_PAGES):
        page = client.users_conversations(
            user=user, types=CHANNEL_TYPES, limit=200, exclude_archived=True, cursor=cursor
        )
        found.update(c["id"] for c in page.get("channels") or [] if c.get("id"))
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return frozenset(found)


def collect(
    deps: Deps, client: WebClient, user: str, logger: logging.Logger, team: Workspace | str = ""
) -> HomeData:
    """What one viewer of one workspace may see: nothing from another workspace, ever."""
    settings = deps.settings
    try:
        mine: frozenset[str] | None = viewer_channels(client, user)
    except Exception:
        logger.exception("could not list the viewer's channels for App Home")
        mine = None
    pulse_channels = deps.repo.pulse_channels(mine, team=team) if mine is not None else None
    # Only channels the viewer is in: a private channel's results are not for outsiders.
    trends = (
        deps.repo.pulse_trends(
            mine, weeks=WEEKS, min_responses=settings.pulse_min_responses, now=deps.clock(), team=team
        )
        if mine
        else {}
    )
    return HomeData(
        trends=trends,
        # The same rule: counts from the viewer's channels only (DMs and shortcuts keep no channel).
        diagnosis_counts=deps.repo.diagnosis_counts(deps.clock() - timedelta(days=DAYS), mine, team=team)
        if mine
        else {},
        my_pulse_channels=pulse_channels,
        my_channel_ids=mine or frozenset(),
        min_responses=settings.pulse_min_responses,
        weeks=WEEKS,
        days=DAYS,
        experiments=_experiments(deps, Workspace.of(team).team_id, mine, logger),
    )


def _experiments(deps: Deps, team_id: str, mine: frozenset[str] | None, logger: logging.Logger):
    """Experiments in the viewer's channels only; App Home shows the rest without them on failure."""
    if not mine or not team_id:
        return ()
    try:
        return ExperimentInsights(deps.settings, deps.experiment_repo, deps.clock).tried(
            team_id, mine, deps.clock(), limit=EXPERIMENTS
        )
    except Exception:
        logger.exception("could not read the experiments for App Home")
        return ()


def handler(deps: Deps):
    def handle_app_home_opened(event: dict, context, client: WebClient, logger: logging.Logger) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event.get("user")
        if not user:
            return
        try:
            view = home_view(
                deps.playbook, collect(deps, client, user, logger, Workspace.from_context(context))
            )
            problems = view_problems(view)
            if problems:  # never let one odd row blank the whole tab
                logger.error("App Home view is invalid (%s); publishing a fallback", "; ".join(problems[:3]))
                view = home_error_view()
        except Exception:
            logger.exception("could not build App Home")
            view = home_error_view()
        try:
            client.views_publish(user_id=user, view=view)
        except Exception:
            logger.exception("could not publish App Home")

    return handle_app_home_opened
