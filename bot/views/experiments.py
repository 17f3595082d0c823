"""What closing the loop looks like: Try buttons, the Try modal, the public "are trying" line, the
check-in and its result, effect lines, `/remedy tried`, and "what works here". Pure builders.

Check-in builders never receive a user id next to an answer: they see counts and one person's own
choice (in their private confirmation).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from bot import ids
from bot.views.blocks import (
    actions,
    button,
    clip,
    context,
    escape,
    header,
    message,
    option,
    parse_json_object,
    plain,
    section,
)

if TYPE_CHECKING:
    from bot.services.experiments import CheckinResult, Effect, ExperimentCard, Works
    from model.playbook import Cause, Playbook

CHOICE_TITLES = {"helped": "Helped", "partly": "Partly", "not_yet": "Not yet", "stopped": "We stopped"}
MODAL_TITLE = "Try this"
TRY_SHOWN = 3
ANONYMOUS = "Anonymous: Truce stores no name with an answer, and nobody — admins included — can see who answered what."


def day_text(day: date) -> str:
    """'15 Dec'"""
    return f"{day.day} {day:%b}"


def _cause_title(cause_id: str, playbook: Playbook) -> str:
    cause = playbook.get(cause_id)
    return cause.title if cause else cause_id


# ---- Try -------------------------------------------------------------------------------------------
def try_button(cause: Cause, index: int, label: str | None = None) -> dict:
    remedy = cause.remedies[index]
    return button(
        label or clip(f"Try: {remedy.title}", 75),
        f"{ids.TRY_REMEDY_PREFIX}{cause.id}:{index}",
        f"{cause.id}:{index}",
    )


def try_buttons(cause: Cause, limit: int = TRY_SHOWN) -> dict:
    """One Try button per remedy shown (the first `limit`)."""
    return actions(*(try_button(cause, n) for n in range(min(limit, len(cause.remedies)))), block_id="try")


def try_menu(cause: Cause, limit: int = TRY_SHOWN) -> dict:
    """The compact form for replies in a conversation: one menu, an option "Try: …" per remedy shown."""
    options = [
        option(clip(f"Try: {r.title}", 75), f"{cause.id}:{n}") for n, r in enumerate(cause.remedies[:limit])
    ]
    menu = {
        "type": "static_select",
        "action_id": ids.TRY_REMEDY_MENU,
        "placeholder": plain("Try one of these…"),
        "options": options,
    }
    return actions(menu, block_id="try")


def parse_try_value(value: str) -> tuple[str, int] | None:
    cause_id, _, index = str(value).partition(":")
    return (cause_id, int(index)) if cause_id and index.isdigit() else None


def encode_try_metadata(cause_id: str, channel_id: str, thread_ts: str | None) -> str:
    return json.dumps({"k": cause_id, "c": channel_id, "t": thread_ts or ""})


def decode_try_metadata(raw: str) -> dict:
    payload = parse_json_object(raw)
    return {
        "cause_id": str(payload.get("k", "")),
        "channel_id": str(payload.get("c", "")),
        "thread_ts": str(payload.get("t", "")) or None,
    }


def try_modal(
    cause: Cause,
    index: int,
    checkin_on: date,
    *,
    channel_id: str,
    thread_ts: str | None,
    ask_channel: bool,
    suggested_channel: str | None = None,
) -> dict:
    """The small Try form: the remedy (prefilled), an optional owner, the check-in date, and — when
    it was picked privately (a DM or a card only the picker sees) — the channel it is for."""
    options = [option(r.title, f"{cause.id}:{n}") for n, r in enumerate(cause.remedies)]
    blocks = [
        section(
            f"{cause.emoji} For *{escape(cause.title.lower())}*. Saving tells the channel, and I'll ask there whether it helped."
        ),
        {
            "type": "input",
            "block_id": ids.TRY_BLOCK_REMEDY,
            "label": plain("Remedy"),
            "element": {
                "type": "static_select",
                "action_id": ids.TRY_REMEDY_INPUT,
                "options": options,
                "initial_option": options[index],
            },
        },
    ]
    if ask_channel:
        element = {
            "type": "conversations_select",
            "action_id": ids.TRY_CHANNEL_INPUT,
            "placeholder": plain("Choose a channel"),
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        }
        if suggested_channel:
            element["initial_conversation"] = suggested_channel
        blocks.append(
            {
                "type": "input",
                "block_id": ids.TRY_BLOCK_CHANNEL,
                "label": plain("Which channel is trying it?"),
                "element": element,
                "hint": plain("Truce must be in that channel (/invite @Truce)."),
            }
        )
    blocks += [
        {
            "type": "input",
            "block_id": ids.TRY_BLOCK_OWNER,
            "optional": True,
            "label": plain("Owner"),
            "element": {
                "type": "users_select",
                "action_id": ids.TRY_OWNER_INPUT,
                "placeholder": plain("Who keeps it going?"),
            },
        },
        {
            "type": "input",
            "block_id": ids.TRY_BLOCK_DATE,
            "label": plain("Check-in date"),
            "element": {
                "type": "datepicker",
                "action_id": ids.TRY_DATE_INPUT,
                "initial_date": checkin_on.isoformat(),
            },
            "hint": plain("That morning I'll ask the channel, anonymously, whether it helped."),
        },
    ]
    return {
        "type": "modal",
        "callback_id": ids.TRY_VIEW,
        "title": plain(MODAL_TITLE),
        "submit": plain("Start"),
        "close": plain("Cancel"),
        "private_metadata": encode_try_metadata(cause.id, channel_id, thread_ts),
        "blocks": blocks,
    }


def try_failed_message() -> dict:
    text = "Sorry, I couldn't open the form just now. Please try again."
    return message(text, [section(f":warning: {text}")])


# ---- the public line -------------------------------------------------------------------------------
def announcement_message(card: ExperimentCard) -> dict:
    owner = f" (owner <@{card.owner_id}>)" if card.owner_id else ""
    text = (
        f":test_tube: Sales and Marketing are trying *{escape(card.remedy)}*{owner}, "
        f"check-in on {day_text(card.checkin_on)}"
    )
    return message(
        text.replace("*", ""),
        [section(text), context("On the check-in date I'll ask here, anonymously, whether it helped.")],
    )


# ---- the check-in ----------------------------------------------------------------------------------
def checkin_message(checkin_id: int, card: ExperimentCard, closes_at: datetime, when: str) -> dict:
    question = f"Did *{escape(card.remedy)}* help?"
    started = f"Started {day_text(card.started_on)}"
    blocks = [
        section(f":test_tube: {question}"),
        actions(
            *(
                button(title, f"{ids.CHECKIN_ANSWER}:{choice}", f"{checkin_id}:{choice}")
                for choice, title in CHOICE_TITLES.items()
            ),
            block_id="checkin",
        ),
        context(f"{started} · you can change your answer until {when}. {ANONYMOUS}"),
    ]
    return message(f"Did {card.remedy} help? Answer anonymously until {when}.", blocks)


def parse_checkin_value(value: str) -> tuple[int, str] | None:
    checkin, _, choice = str(value).partition(":")
    return (int(checkin), choice) if checkin.isdigit() and choice in CHOICE_TITLES else None


def checkin_confirmation(choice: str, when: str) -> dict:
    text = (
        f":white_check_mark: Got it: *{CHOICE_TITLES[choice]}*. You can change it until {when}. "
        "Only you can see this."
    )
    return message(text.replace("*", ""), [section(text), context(ANONYMOUS)])


def checkin_closed_reply() -> dict:
    text = "This check-in has closed, so answers can no longer be changed. The result is in the thread."
    return message(text, [section(text)])


def not_this_checkin_reply() -> dict:
    text = "This button doesn't belong to this check-in, so your answer was not counted."
    return message(text, [section(f":warning: {text}")])


def closed_checkin_message(card: ExperimentCard) -> dict:
    text = f"The check-in on *{escape(card.remedy)}* is closed. The result is below."
    return message(text.replace("*", ""), [section(text)])


def result_text(result: CheckinResult) -> str:
    if not result.shown:
        who = "Nobody" if result.responses == 0 else f"Only {result.responses}"
        return (
            f"{who} answered — too few to show a result (at least {result.min_responses} answers are "
            "needed so that nobody's answer can be singled out)."
        )
    counts = " · ".join(f"{title} {result.counts[c]}" for c, title in CHOICE_TITLES.items())
    verdict = "it helped" if result.helped else "it did not help (yet)"
    return f"{result.responses} answered: {counts}. Most say {verdict}."


def result_message(card: ExperimentCard, playbook: Playbook) -> dict:
    assert card.result is not None
    lines = [f":bar_chart: *Check-in: did {escape(card.remedy)} help?*", result_text(card.result)]
    lines += effect_lines(card, playbook)
    text = "\n".join(lines)
    return message(
        text.replace("*", ""),
        [section(text), context("Helped = more answers said Helped or Partly than Not yet or We stopped.")],
    )


# ---- effect -------------------------------------------------------------------------------------
def _share(named: int, of: int) -> str:
    return f"{named} of {of}" if of else "no answers"


def effect_lines(card: ExperimentCard, playbook: Playbook) -> list[str]:
    effect: Effect | None = card.effect
    if effect is None:
        return []
    cause = _cause_title(card.cause_id, playbook).lower()
    head = f"Since you started *{escape(card.remedy)}* on {day_text(card.started_on)}"
    weeks = f"{effect.weeks} week{'s' if effect.weeks != 1 else ''} before vs since"
    b, s = effect.before, effect.since
    diagnosed = f"Truce diagnosed {escape(cause)} {b.diagnoses} → {s.diagnoses} times"
    if not effect.measurable:
        return [
            f"{head}: too few pulse polls to compare yet ({b.polls} before, {s.polls} since; at least one "
            f"closed poll on each side is needed). {diagnosed} ({weeks})."
        ]
    score = (
        f"score {b.avg_score:.1f} → {s.avg_score:.1f}"
        if b.avg_score is not None and s.avg_score is not None
        else "score: too few answers"
    )
    named = f"{escape(cause)} named by {_share(b.cause_named, b.cause_answers)} → {_share(s.cause_named, s.cause_answers)}"
    return [f"{head}: {score}; {named}; {diagnosed} ({weeks}, {b.polls} → {s.polls} pulse polls)."]


# ---- /remedy tried, App Home -----------------------------------------------------------------------
STATUS_WORDS = {"running": "running", "checking_in": "check-in open", "finished": "finished"}


def card_line(card: ExperimentCard, playbook: Playbook, with_channel: bool = False) -> str:
    where = f" in <#{card.channel_id}>" if with_channel else ""
    owner = f" · owner <@{card.owner_id}>" if card.owner_id else ""
    head = (
        f"• *{escape(card.remedy)}* ({escape(_cause_title(card.cause_id, playbook).lower())}){where}{owner} · "
        f"started {day_text(card.started_on)} · check-in {day_text(card.checkin_on)} · "
        f"{STATUS_WORDS.get(card.status, card.status)}"
    )
    lines = [head]
    if card.result is not None:
        lines.append(f"    {result_text(card.result)}")
    lines += [f"    {line}" for line in effect_lines(card, playbook)]
    return "\n".join(lines)


def tried_message(cards: Sequence[ExperimentCard], playbook: Playbook) -> dict:
    if not cards:
        text = (
            "No remedies tried in this channel yet. Pick *Try* on a remedy (in my replies, on a "
            "`/remedy` card or in a pulse summary) and I'll check in on it."
        )
        return message(text.replace("*", ""), [section(text)])
    blocks = [header("Remedies tried here")]
    blocks += [section(clip(card_line(card, playbook), 3000)) for card in cards[:20]]
    blocks.append(
        context(
            "Only you can see this. Helped = more answers said Helped or Partly than Not yet or We stopped."
        )
    )
    return message(f"{len(cards)} remedies tried in this channel.", blocks)


def works_line(remedy: str, works: Works) -> str:
    return f":seedling: *What works here:* {escape(remedy)} — tried in {works.tried} channels here, helped in {works.helped}."
