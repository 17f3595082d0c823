"""What the weekly pulse looks like: the poll, confirmations, reminder, summary, status. Pure builders.

Nothing here ever receives a user id: the builders see counts, averages and one person's own answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot import ids
from bot.views.blocks import (
    actions,
    button,
    clip,
    context,
    divider,
    escape,
    header,
    message,
    option,
    plain,
    section,
)

if TYPE_CHECKING:
    from bot.services.aggregation import PulseResults, TrendPoint
    from bot.services.schedule import Schedule
    from bot.storage.pulse_repository import Answer
    from model.playbook import Playbook

SIDE_TITLES = {"sales": "Sales", "marketing": "Marketing", "other": "Other"}
SCORE_WORDS = {1: "badly", 2: "poorly", 3: "so-so", 4: "well", 5: "very well"}
NOTHING = "nothing"
DAY_NAMES = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
ANONYMOUS = (
    "Anonymous: Truce stores no name with an answer, and nobody — admins included — can see who "
    "answered what."
)


# ---- small formatting ----------------------------------------------------------------------------
def when(moment: datetime, tz: str) -> str:
    """'Thu 2 Apr, 10:00 CEST' in the channel's timezone."""
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {local.tzname()}"


def schedule_text(schedule: Schedule) -> str:
    return f"{DAY_NAMES[schedule.weekday]} at {schedule.time} ({schedule.timezone})"


def period_label(key: str) -> str:
    """'2026-W14' -> 'week 14 (30 Mar)'."""
    from datetime import date

    year, week = key.split("-W")
    monday = date.fromisocalendar(int(year), int(week), 1)
    return f"week {int(week)} ({monday.day} {monday:%b})"


def short_week(key: str) -> str:
    return "W" + key.split("-W")[1]


def score_text(value: float) -> str:
    return f"{value:.1f}/5"


def people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def responses_text(n: int) -> str:
    return f"{n} {'response' if n == 1 else 'responses'}"


def cause_title(cause_id: str, playbook: Playbook) -> str:
    if cause_id == NOTHING:
        return "Nothing got in the way"
    cause = playbook.get(cause_id)
    return cause.title if cause else cause_id


# ---- the poll ------------------------------------------------------------------------------------
def cause_select(poll_id: int, playbook: Playbook) -> dict:
    options = [option(c.title, f"{poll_id}:{c.id}") for c in playbook.causes]
    options.append(option("Nothing got in the way", f"{poll_id}:{NOTHING}"))
    return {
        "type": "static_select",
        "action_id": ids.PULSE_CAUSE,
        "placeholder": plain("Choose one"),
        "options": options,
    }


def poll_message(poll_id: int, playbook: Playbook, responses: int, closes_at: datetime, tz: str) -> dict:
    """The open poll. While it is open it shows the number of responses and nothing else."""
    closes = when(closes_at, tz)
    blocks = [
        header("Weekly pulse: Sales × Marketing"),
        section(
            "Three quick questions about this week. Answer with the buttons; you can change your "
            f"answer until the poll closes ({closes}). {ANONYMOUS}"
        ),
        section("*1. Which side are you on?*"),
        actions(
            *(
                button(title, f"{ids.PULSE_SIDE}:{side}", f"{poll_id}:{side}")
                for side, title in SIDE_TITLES.items()
            ),
            block_id=ids.PULSE_BLOCK_SIDE,
        ),
        section("*2. How well did Sales and Marketing work together this week?*  (1 = badly, 5 = very well)"),
        actions(
            *(button(str(n), f"{ids.PULSE_SCORE}:{n}", f"{poll_id}:{n}") for n in range(1, 6)),
            block_id=ids.PULSE_BLOCK_SCORE,
        ),
        section("*3. What got in the way most?*"),
        actions(cause_select(poll_id, playbook), block_id=ids.PULSE_BLOCK_CAUSE),
        context(f":ballot_box_with_ballot: *{responses_text(responses)}* so far · closes {closes}"),
    ]
    return message(
        f"Weekly pulse: how did Sales and Marketing work together this week? {responses_text(responses)} "
        f"so far; closes {closes}.",
        blocks,
    )


def closed_poll_message(responses: int) -> dict:
    text = f"This week's pulse is closed: {people(responses)} answered. The results are in the channel."
    return message(text, [header("Weekly pulse: Sales × Marketing (closed)"), section(text)])


def vote_confirmation(answer: Answer, closes_at: datetime, tz: str, playbook: Playbook) -> dict:
    parts, missing = [], []
    if answer.side:
        parts.append(SIDE_TITLES.get(answer.side, answer.side))
    else:
        missing.append("1")
    if answer.score is not None:
        parts.append(f"{answer.score}/5")
    else:
        missing.append("2")
    if answer.cause:
        parts.append(cause_title(answer.cause, playbook))
    else:
        missing.append("3")
    text = f":white_check_mark: Got it. Your answer: *{escape(' · '.join(parts))}*."
    if missing:
        text += f" Still open: question {' and '.join(missing)}."
    text += f" You can change it until {when(closes_at, tz)}. Only you can see this."
    return message(text.replace("*", ""), [section(text), context(ANONYMOUS)])


def poll_closed_reply() -> dict:
    text = "This poll has closed, so answers can no longer be changed. The results are in the channel."
    return message(text, [section(text)])


def not_this_poll_reply() -> dict:
    text = (
        "This button doesn't belong to this poll, so your answer was not counted. "
        "Answer on the weekly pulse message itself."
    )
    return message(text, [section(f":warning: {text}")])


def reminder_message(responses: int, closes_at: datetime, tz: str, min_responses: int) -> dict:
    closes = when(closes_at, tz)
    if responses == 0:
        head = "Nobody has answered this week's pulse yet."
    else:
        head = f"{people(responses)} {'has' if responses == 1 else 'have'} answered this week's pulse so far."
    need = ""
    if responses < min_responses:
        need = f" Results are shown only if at least {min_responses} people answer."
    text = f":hourglass_flowing_sand: Halfway: {head} It closes {closes} — three clicks, anonymous.{need}"
    return message(text, [section(text)])


def welcome_message(schedule: Schedule) -> dict:
    text = (
        ":wave: Thanks for inviting me. Every week — "
        f"{schedule_text(schedule)} — I'll ask this channel three anonymous questions about how "
        "Sales and Marketing worked together, and post the results and the trend when the poll closes. "
        "`/pulse` shows or changes the schedule; `/pulse off` stops it."
    )
    return message(text, [section(text)])


# ---- results ---------------------------------------------------------------------------------------
def trend_text(points: list[TrendPoint]) -> str:
    parts = []
    for p in points:
        if p.avg_score is not None:
            parts.append(f"{short_week(p.period_key)} {p.avg_score:.1f}")
        elif p.responses is None:
            parts.append(f"{short_week(p.period_key)} no poll")
        else:
            parts.append(f"{short_week(p.period_key)} too few")
    return " · ".join(parts)


def trend_change(points: list[TrendPoint]) -> str:
    shown = [p for p in points if p.avg_score is not None]
    if len(shown) < 2 or shown[-1] is not points[-1]:
        return ""
    delta = shown[-1].avg_score - shown[-2].avg_score
    if abs(delta) < 0.05:
        return " (same as last time)"
    arrow = ":arrow_up_small:" if delta > 0 else ":arrow_down_small:"
    return f" ({arrow} {delta:+.1f} since {short_week(shown[-2].period_key)})"


def trend_alt_text(points: list[TrendPoint]) -> str:
    return (
        "Line chart of this channel's average pulse score (1 to 5) over the last 8 weeks: "
        + trend_text(points)
        + "."
    )


def summary_message(
    results: PulseResults, points: list[TrendPoint], playbook: Playbook, period_key: str
) -> dict:
    """The closing post. Every fact in the chart is also here in text."""
    title = f"Pulse results, {period_label(period_key)}"
    if not results.shown:
        who = "Nobody" if results.responses == 0 else f"Only {people(results.responses)}"
        few = (
            f"{who} answered — too few to show results. At least {results.min_responses} answers are "
            "needed so that nobody's answer can be singled out."
        )
        blocks = [header(title), section(few), context(f"Trend, last 8 weeks: {trend_text(points)}")]
        return message(f"{title}: {few} Trend, last 8 weeks: {trend_text(points)}.", blocks)

    lines = [f"*{people(results.responses)} answered.*"]
    plain_lines = [f"{people(results.responses)} answered."]
    if results.breakdown is not None:
        counts = results.breakdown.counts
        side_line = f"Sales {counts['sales']} · Marketing {counts['marketing']}"
        lines[0] += f" ({side_line})"
        plain_lines[0] = plain_lines[0][:-1] + f" ({side_line})."
    if results.avg_score is not None:
        change = trend_change(points)
        line = f"How well Sales and Marketing worked together: *{score_text(results.avg_score)}*{change}"
        lines.append(line)
        plain_lines.append(
            f"Average score: {score_text(results.avg_score)}{change.replace(':arrow_up_small:', 'up').replace(':arrow_down_small:', 'down')}."
        )
    trend_line = f"Trend, last 8 weeks: {trend_text(points)}"
    lines.append(trend_line)
    plain_lines.append(trend_line + ".")
    blocks = [header(title), section("\n".join(lines))]

    if results.top_causes:
        top = "\n".join(
            f"{i}. {escape(cause_title(c, playbook))} — {n}" for i, (c, n) in enumerate(results.top_causes, 1)
        )
        blocks.append(section(f"*What got in the way most*\n{top}"))
        plain_lines.append(
            "Top causes: "
            + "; ".join(f"{cause_title(c, playbook)} ({n})" for c, n in results.top_causes)
            + "."
        )
    elif results.cause_answers >= results.min_responses:
        blocks.append(section("*What got in the way most:* nothing, say those who answered."))
        plain_lines.append("Nobody named a cause.")

    gap_lines = _gap_lines(results, playbook)
    if gap_lines:
        blocks.append(section("*How each side sees it*\n" + "\n".join(gap_lines)))
        plain_lines.append(
            "How each side sees it: "
            + "; ".join(line.replace("*", "").lstrip("• ") for line in gap_lines)
            + "."
        )

    top_cause = playbook.get(results.top_cause) if results.top_cause else None
    if top_cause is not None and top_cause.remedies:
        remedy = top_cause.remedies[0]
        blocks.append(
            section(
                f"{top_cause.emoji} *Try this week, for {escape(top_cause.title.lower())}:* "
                f"*{escape(remedy.title)}* — {escape(remedy.detail)}\n`/remedy {top_cause.id}` opens the full playbook."
            )
        )
        plain_lines.append(f"Try this week: {remedy.title}.")
    blocks.append(divider())
    blocks.append(
        context(
            f"Results show only when at least {results.min_responses} people answered, and a side's figures "
            f"only when each side shown has at least {results.min_responses}. {ANONYMOUS}"
        )
    )
    return message(f"{title}. " + " ".join(plain_lines), blocks)


def _gap_lines(results: PulseResults, playbook: Playbook) -> list[str]:
    breakdown = results.breakdown
    if breakdown is None:
        return []
    lines = []
    if breakdown.avg_scores:
        s, m = breakdown.avg_scores["sales"], breakdown.avg_scores["marketing"]
        lines.append(f"• Score: Sales *{score_text(s)}* · Marketing *{score_text(m)}*")
    for gap in breakdown.gaps or ():
        lines.append(
            f"• {escape(cause_title(gap.cause, playbook))}: Sales {gap.sales:.0%} · Marketing {gap.marketing:.0%}"
            f" (gap {abs(gap.gap) * 100:.0f} pts)"
        )
    return lines


# ---- /pulse ----------------------------------------------------------------------------------------
USAGE = (
    "*/pulse* — this channel's weekly Sales × Marketing pulse\n"
    "• `/pulse` — schedule, next run, last results\n"
    "• `/pulse on` · `/pulse off` — start or stop the weekly poll here\n"
    "• `/pulse schedule fri 15:00 [Europe/Berlin]` — change day, time and timezone\n"
    "• `/pulse now` — post this week's poll now (once per week)\n"
    "• `/pulse results` — the latest results"
)


def schedule_problem(complaint: str, word: str = "") -> str:
    """What was wrong with a typed schedule, the typed word escaped so it can't mention or link."""
    return f"`{escape(clip(word, 60))}` {complaint}" if word else complaint


def usage_message(problem: str | None = None) -> dict:
    text = (f"{problem}\n\n" if problem else "") + USAGE
    return message(text.replace("*", ""), [section(text)])


def text_message(text: str) -> dict:
    return message(text.replace("*", ""), [section(text)])


def not_member_message() -> dict:
    return text_message(
        "I'm not in this channel yet. Invite me with `/invite @Truce` and the weekly pulse starts here."
    )


def status_message(
    *,
    enabled: bool,
    schedule: Schedule,
    next_run: datetime | None,
    open_responses: int | None,
    open_closes_at: datetime | None,
    last_period: str | None,
    last_responses: int | None,
    last_avg: float | None,
    min_responses: int,
) -> dict:
    tz = schedule.timezone
    lines = [
        f"*Weekly pulse:* {'on' if enabled else 'off'} · {schedule_text(schedule)}",
    ]
    if enabled and next_run is not None:
        lines.append(f"*Next poll:* {when(next_run, tz)}")
    if open_responses is not None and open_closes_at is not None:
        lines.append(f"*Open now:* {responses_text(open_responses)}, closes {when(open_closes_at, tz)}")
    if last_period is None:
        lines.append("*Last results:* none yet")
    elif last_avg is not None:
        lines.append(
            f"*Last results:* {period_label(last_period)} — {people(last_responses or 0)}, average {score_text(last_avg)}"
        )
    else:
        lines.append(
            f"*Last results:* {period_label(last_period)} — {people(last_responses or 0)} answered, "
            f"too few to show (at least {min_responses} needed)"
        )
    text = "\n".join(lines)
    return message(
        text.replace("*", ""), [section(text), context("`/pulse help` lists what you can change.")]
    )
