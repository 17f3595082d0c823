"""App Home: the playbook, pulse trends, diagnosis counts and the viewer's pulse settings. Pure.

However many channels or weeks there are, the view stays within Slack's limits: at most
TREND_SECTIONS x TREND_LINES_PER_SECTION channels are listed (then "and N more"), and every text
is clipped to 3000 characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.storage.repository import TrendPoint
from bot.views.blocks import (
    SECTION_TEXT_MAX,
    VIEW_BLOCKS_MAX,
    clip,
    context,
    divider,
    escape,
    header,
    section,
)
from bot.views.experiments import card_line
from bot.views.remedy import cause_button
from model.labels import NONE
from model.playbook import Playbook

if TYPE_CHECKING:
    from bot.services.experiments import ExperimentCard

SPARK = "▁▂▃▄▅▆▇█"
SCORE_MIN, SCORE_MAX = 1.0, 5.0
TREND_LINES_PER_SECTION = 15
TREND_SECTIONS = 3
SETTINGS_LINES = 20
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class PulseSetting(Protocol):
    channel_id: str
    enabled: bool
    weekday: int
    time: str
    timezone: str
    member: bool


@dataclass(frozen=True)
class HomeData:
    """What App Home shows; every field is already aggregated and filtered."""

    trends: Mapping[str, Sequence[TrendPoint]]
    diagnosis_counts: Mapping[str, int]
    # The viewer's channels that run the pulse; None when Slack couldn't tell us the viewer's channels.
    my_pulse_channels: Sequence[PulseSetting] | None
    my_channel_ids: frozenset[str] = frozenset()
    min_responses: int = 3
    weeks: int = 8
    days: int = 30
    # Remedies tried in the viewer's channels (bot/services/experiments.py), newest first.
    experiments: Sequence[ExperimentCard] = ()


def sparkline(scores: Iterable[float]) -> str:
    out = []
    for score in scores:
        share = (min(max(score, SCORE_MIN), SCORE_MAX) - SCORE_MIN) / (SCORE_MAX - SCORE_MIN)
        out.append(SPARK[round(share * (len(SPARK) - 1))])
    return "".join(out)


def trend_line(channel_id: str, points: Sequence[TrendPoint]) -> str:
    scores = [p.avg_score for p in points]
    weeks = f"{len(points)} week{'s' if len(points) != 1 else ''}"
    change = f"{scores[0]:.1f} → {scores[-1]:.1f}" if len(scores) > 1 else f"{scores[-1]:.1f}"
    return f"<#{channel_id}>  *{scores[-1]:.1f}*  `{sparkline(scores)}`  {change} ({weeks})"


def _latest(points: Sequence[TrendPoint]) -> datetime:
    return points[-1].closed_at


def _ordered_channels(data: HomeData) -> list[str]:
    """The viewer's own channels first, then the most recently polled."""
    channels = [c for c, points in data.trends.items() if points]
    channels.sort(key=lambda c: _latest(data.trends[c]), reverse=True)
    channels.sort(key=lambda c: c not in data.my_channel_ids)
    return channels


def _chunks(lines: list[str], size: int) -> list[list[str]]:
    return [lines[i : i + size] for i in range(0, len(lines), size)]


def _lines_section(lines: list[str]) -> dict:
    """One section of lines, never cut in the middle of a line."""
    kept: list[str] = []
    length = 0
    for line in lines:
        line = clip(line, SECTION_TEXT_MAX)
        if length + len(line) + 1 > SECTION_TEXT_MAX:
            break
        kept.append(line)
        length += len(line) + 1
    return section("\n".join(kept))


def trend_blocks(data: HomeData) -> list[dict]:
    blocks = [
        header("Pulse trends in your channels"),
        context(
            f"Average answer (1 = badly, 5 = very well) of each weekly pulse over the last {data.weeks} weeks. "
            f"A week shows only when at least {data.min_responses} people answered, so nobody can be singled out."
        ),
    ]
    channels = _ordered_channels(data)
    if not channels:
        blocks.append(
            section(
                "No pulse results yet. Invite `@Truce` to a channel Sales and Marketing share and type "
                "`/pulse on`: a weekly one-minute anonymous check-in, results once enough people answer."
            )
        )
        return blocks
    shown = channels[: TREND_SECTIONS * TREND_LINES_PER_SECTION]
    lines = [trend_line(c, data.trends[c][-data.weeks :]) for c in shown]
    blocks += [_lines_section(chunk) for chunk in _chunks(lines, TREND_LINES_PER_SECTION)]
    if len(channels) > len(shown):
        more = len(channels) - len(shown)
        blocks.append(context(f"…and {more} more channel{'s' if more != 1 else ''} with pulse results."))
    return blocks


def counts_blocks(data: HomeData, playbook: Playbook) -> list[dict]:
    blocks = [header(f"Diagnoses in your channels, last {data.days} days")]
    counts = {label: n for label, n in data.diagnosis_counts.items() if n > 0}
    if not counts:
        if data.my_pulse_channels is None:  # Slack couldn't tell us the viewer's channels
            blocks.append(section(":warning: I couldn't look up your channels just now, so no counts."))
        else:
            blocks.append(
                section(
                    "No diagnoses in your channels yet. Mention `@Truce` with what's going on, "
                    "or try `/remedy`."
                )
            )
        return blocks
    causes = sorted(
        (c for c in playbook.causes if counts.get(c.id)), key=lambda c: counts[c.id], reverse=True
    )
    top = max(counts.get(c.id, 0) for c in causes) if causes else 0
    lines = []
    for cause in causes:
        n = counts[cause.id]
        bar = "▇" * max(1, round(10 * n / top))
        lines.append(f"{cause.emoji} {escape(cause.title)}  `{bar}` {n}")
    if counts.get(NONE):
        lines.append(f":relieved: No friction seen  {counts[NONE]}")
    blocks.append(_lines_section(lines))
    blocks.append(
        context(
            "Counts only, from channels you are in; private diagnoses (DMs, *Diagnose friction*) are not "
            "counted here. Truce keeps no message text unless someone submits a correction."
        )
    )
    return blocks


EXPERIMENT_LINES = 8


def experiment_blocks(data: HomeData, playbook: Playbook) -> list[dict]:
    blocks = [header("Remedies your channels are trying")]
    if not data.experiments:
        blocks.append(
            section(
                "None yet. Pick *Try* on a remedy (in my replies, on a `/remedy` card or in a pulse "
                "summary): I'll tell the channel, check in on the date you choose, and show what changed."
            )
        )
        return blocks
    lines = [card_line(card, playbook, with_channel=True) for card in data.experiments[:EXPERIMENT_LINES]]
    blocks += [_lines_section([line]) for line in lines]
    blocks.append(context("`/remedy tried` in a channel lists all of its experiments."))
    return blocks


def _setting_line(row: PulseSetting) -> str:
    where = f"<#{row.channel_id}>"
    if not row.member:
        return f"{where} — Truce is no longer in this channel; invite it back to restart the pulse"
    if not row.enabled:
        return f"{where} — paused (`/pulse on` in the channel to resume)"
    day = DAY_NAMES[row.weekday % 7] if isinstance(row.weekday, int) else "?"
    return f"{where} — every {day} at {escape(row.time)} ({escape(row.timezone)})"


def settings_blocks(data: HomeData) -> list[dict]:
    blocks = [header("The pulse in your channels")]
    if data.my_pulse_channels is None:
        blocks.append(
            section(
                ":warning: I couldn't look up your channels just now. "
                "Open this tab again in a moment to see their pulse settings."
            )
        )
        return blocks
    rows = list(data.my_pulse_channels)
    if not rows:
        blocks.append(
            section("None of your channels runs the pulse yet. In a shared channel, type `/pulse on`.")
        )
        return blocks
    lines = [_setting_line(r) for r in rows[:SETTINGS_LINES]]
    blocks.append(_lines_section(lines))
    if len(rows) > SETTINGS_LINES:
        more = len(rows) - SETTINGS_LINES
        blocks.append(context(f"…and {more} more. `/pulse` in a channel shows its settings."))
    blocks.append(context("Change a channel's schedule there: `/pulse schedule fri 15:00 Europe/Berlin`."))
    return blocks


def playbook_blocks(playbook: Playbook) -> list[dict]:
    blocks = [header("The playbook")]
    blocks += [
        section(
            f"{cause.emoji} *{escape(cause.title)}*\n{escape(cause.description)}",
            accessory=cause_button(cause, "Remedies"),
        )
        for cause in playbook.causes
    ]
    return blocks


def home_view(playbook: Playbook, data: HomeData) -> dict:
    blocks = [
        header(":handshake: Truce"),
        section(
            "I name what's behind friction between Sales and Marketing and suggest concrete next steps. "
            "Mention `@Truce` in a shared channel, use *Diagnose friction* from any message's "
            "*More actions* menu (only you see the answer), or type `/remedy` anywhere."
        ),
        divider(),
        *trend_blocks(data),
        divider(),
        *counts_blocks(data, playbook),
        divider(),
        *experiment_blocks(data, playbook),
        divider(),
        *settings_blocks(data),
        divider(),
        *playbook_blocks(playbook),
    ]
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS_MAX]}


def home_error_view() -> dict:
    return {
        "type": "home",
        "blocks": [
            header(":handshake: Truce"),
            section(":warning: Sorry, I couldn't load this page just now. Open the tab again in a minute."),
        ],
    }
