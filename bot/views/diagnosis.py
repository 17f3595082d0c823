"""What Truce posts about a message: the cause, why, what to try, and the feedback buttons."""

from __future__ import annotations

import re

from bot import ids
from bot.services.diagnose import Finding, Verdict, confidence_words
from bot.views.blocks import (
    BUTTON_VALUE_MAX,
    actions,
    button,
    context,
    escape,
    fit_json,
    message,
    parse_json_object,
    section,
)
from model.playbook import Cause, Playbook

REMEDIES_SHOWN = 3
RUNNER_UP_SHOWN_FROM = 0.15  # a second cause worth naming, not noise


def encode_feedback(label: str, surface: str, text: str, asker: str = "") -> str:
    """The button value carries what a correction needs, so no text is stored unless submitted.
    `asker` is who asked Truce (the mention's author, the shortcut's or /remedy's user): only they
    may save the text. It travels with the button and is never stored. Slack signs the clicks and
    people cannot edit a bot message's buttons, so the value is as Truce posted it."""
    return fit_json({"l": label, "s": surface, "a": asker, "t": text}, "t", BUTTON_VALUE_MAX)


def decode_feedback(value: str) -> dict:
    payload = parse_json_object(value)
    return {
        "label": str(payload.get("l", "")),
        "surface": str(payload.get("s", "")),
        "asker": str(payload.get("a", "")),
        "text": str(payload.get("t", "")),
    }


def feedback_block(finding: Finding, surface: str, asker: str = "") -> dict:
    value = encode_feedback(finding.label, surface, finding.text, asker)
    return actions(
        button(":thumbsup: Helpful", ids.FEEDBACK_HELPFUL, value),
        button(":thinking_face: Not quite", ids.FEEDBACK_NOT_QUITE, value),
        block_id="feedback",
    )


def remedy_lines(cause: Cause, limit: int = REMEDIES_SHOWN) -> str:
    return "\n".join(f"• *{escape(r.title)}* — {escape(r.detail)}" for r in cause.remedies[:limit])


def cause_buttons(causes: tuple[Cause, ...] | list[Cause]) -> dict:
    return actions(
        *(button(f"{c.title}", f"{ids.CAUSE_OPEN_PREFIX}{c.id}", c.id) for c in causes),
        block_id="closest",
    )


def friction_message(finding: Finding, surface: str, asker: str = "") -> dict:
    cause = finding.cause
    assert cause is not None and finding.diagnosis is not None
    sure = confidence_words(finding.diagnosis.confidence)
    blocks = [
        section(f"{cause.emoji} {sure} this is *{escape(cause.title.lower())}*: {escape(cause.description)}"),
    ]
    if finding.evidence:
        quoted = ", ".join(f"“{escape(term)}”" for term in finding.evidence)
        blocks.append(context(f"Why I think so: words like {quoted} are typical of it. {escape(cause.why)}"))
    else:
        blocks.append(context(escape(cause.why)))
    blocks.append(section(f"*What to try this week*\n{remedy_lines(cause)}"))
    more = f"Full playbook{' and a template' if cause.template else ''}: `/remedy {cause.id}`"
    runner_up = finding.diagnosis.runner_up()
    if finding.closest and runner_up and runner_up[1] >= RUNNER_UP_SHOWN_FROM:
        more += f" · Could also be: {finding.closest[0].title.lower()}"
    blocks.append(context(more))
    blocks.append(feedback_block(finding, surface, asker))
    fallback = f"{sure} this is {cause.title.lower()}. First step: {cause.remedies[0].title}."
    return message(fallback, blocks)


def unsure_message(finding: Finding, surface: str, asker: str = "") -> dict:
    names = " or ".join(f"*{escape(c.title.lower())}*" for c in finding.closest)
    text = (
        ":thinking_face: I can't tell for sure what's behind this. "
        + (f"The closest patterns I know are {names}. " if names else "")
        + "Could you tell me a sentence more about what happened between Sales and Marketing?"
    )
    blocks = [section(text)]
    if finding.closest:
        blocks.append(cause_buttons(finding.closest))
    blocks.append(feedback_block(finding, surface, asker))
    return message(to_fallback(text), blocks)


def no_friction_message(finding: Finding, surface: str, asker: str = "") -> dict:
    text = (
        ":relieved: I don't see friction between Sales and Marketing in this. "
        "If there is some, tell me a sentence more about what went wrong, or type `/remedy` to browse the playbook."
    )
    return message(to_fallback(text), [section(text), feedback_block(finding, surface, asker)])


def help_message(playbook: Playbook) -> dict:
    text = (
        ":wave: I'm Truce. Mention me with what's going on between Sales and Marketing "
        "(for example _“@Truce the leads from the webinar were junk again”_) and I'll name the likely cause "
        "and suggest concrete next steps, right here in the thread."
    )
    causes = ", ".join(c.title.lower() for c in playbook.causes)
    return message(
        to_fallback(text),
        [
            section(text),
            context(f"I know these patterns: {escape(causes)}. Type `/remedy` to browse them."),
        ],
    )


_EMPHASIS = re.compile(r"(?<![\w:])([*_])([^*_\n]+)\1(?![\w:])")


def to_fallback(mrkdwn_text: str) -> str:
    """Notification text: the same words without *bold* and _italic_ markers (emoji codes kept)."""
    return _EMPHASIS.sub(r"\2", mrkdwn_text)


def diagnosis_message(finding: Finding, playbook: Playbook, surface: str, asker: str = "") -> dict:
    if finding.verdict is Verdict.EMPTY:
        return help_message(playbook)
    if finding.verdict is Verdict.FRICTION:
        return friction_message(finding, surface, asker)
    if finding.verdict is Verdict.UNSURE:
        return unsure_message(finding, surface, asker)
    return no_friction_message(finding, surface, asker)


def error_message() -> dict:
    text = ":warning: Sorry, something went wrong on my side and I couldn't look at this. Please try again in a minute."
    return message(to_fallback(text), [section(text)])
