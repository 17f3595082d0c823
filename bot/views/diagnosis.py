"""What Truce posts about a message: the cause, why, what to try, and the feedback buttons."""

from __future__ import annotations

import re

from bot import ids
from bot.services.diagnose import ConversationRead, Finding, Verdict, confidence_words
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
from bot.views.experiments import try_menu
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


def what_was_read(read: ConversationRead) -> str:
    if read.kind == "channel":
        n = read.total
        return f"I read the last {n} message{'s' if n != 1 else ''} in this channel"
    return f"I read the {read.total} message{'s' if read.total != 1 else ''} in this thread"


def conversation_lines(finding: Finding, permalink: str | None) -> list[str]:
    """Counts about the conversation; never who said what, never a quote."""
    read = finding.conversation
    cause = finding.cause
    if read is None or cause is None:
        return []
    here = "here" if read.kind == "thread" else "of them"
    if read.kind == "channel":
        lines = [
            f"{what_was_read(read)}: {read.count} {here} {'are' if read.count != 1 else 'is'} about {escape(cause.title.lower())}."
        ]
    else:
        lines = [
            f"{read.count} of the {read.total} messages {here} {'are' if read.count != 1 else 'is'} about {escape(cause.title.lower())}."
        ]
    if read.second is not None:
        lines.append(
            f"Some of it is also about *{escape(read.second.title.lower())}* (`/remedy {read.second.id}`)."
        )
    if permalink:
        lines.append(f"<{permalink}|The message that shows it most clearly>")
    return lines


def follow_up_line(finding: Finding) -> str | None:
    read = finding.conversation
    if read is None or read.previous is None or finding.cause is None:
        return None
    if read.previous.id == finding.cause.id:
        return f"Thanks. Reading the thread again, it still looks like *{escape(finding.cause.title.lower())}* to me."
    return f"Thanks, then it looks more like *{escape(finding.cause.title.lower())}* than {escape(read.previous.title.lower())}."


def friction_message(finding: Finding, surface: str, permalink: str | None = None, asker: str = "") -> dict:
    cause = finding.cause
    assert cause is not None and finding.diagnosis is not None
    read = finding.conversation
    blocks = []
    follow_up = follow_up_line(finding)
    if follow_up:
        blocks.append(section(follow_up))
    if read is not None:
        what = "this thread" if read.kind == "thread" else "the conversation here"
        headline = f"{cause.emoji} Most of {what} points to *{escape(cause.title.lower())}*: {escape(cause.description)}"
        if read.count * 2 < read.total:
            headline = f"{cause.emoji} The friction in {what} looks like *{escape(cause.title.lower())}*: {escape(cause.description)}"
        sure = "It looks like"
        blocks.append(section(headline))
        blocks.append(context(" ".join(conversation_lines(finding, permalink)) + f" {escape(cause.why)}"))
    else:
        sure = confidence_words(finding.diagnosis.confidence)
        blocks.append(
            section(
                f"{cause.emoji} {sure} this is *{escape(cause.title.lower())}*: {escape(cause.description)}"
            )
        )
        if finding.evidence:
            quoted = ", ".join(f"“{escape(term)}”" for term in finding.evidence)
            blocks.append(
                context(f"Why I think so: words like {quoted} are typical of it. {escape(cause.why)}")
            )
        else:
            blocks.append(context(escape(cause.why)))
    blocks.append(section(f"*What to try this week*\n{remedy_lines(cause)}"))
    blocks.append(try_menu(cause, REMEDIES_SHOWN))
    more = f"Full playbook{' and a template' if cause.template else ''}: `/remedy {cause.id}`"
    runner_up = finding.diagnosis.runner_up()
    if read is None and finding.closest and runner_up and runner_up[1] >= RUNNER_UP_SHOWN_FROM:
        more += f" · Could also be: {finding.closest[0].title.lower()}"
    blocks.append(context(more))
    blocks.extend(note_blocks(finding))
    blocks.append(feedback_block(finding, surface, asker))
    fallback = f"{sure} this is {cause.title.lower()}. First step: {cause.remedies[0].title}."
    if follow_up:
        fallback = to_fallback(follow_up) + " " + fallback
    return message(fallback, blocks)


def unread_note(kind: str, error: str) -> str:
    """One line: why Truce could not read the conversation, and how to let it."""
    what = "this thread" if kind == "thread" else "this channel's recent messages"
    if error == "missing_scope":
        how = (
            "Truce lacks the permission to read conversations: a workspace admin can reinstall it from "
            "`manifest.json` to grant `channels:history` (`groups:history` for private channels, "
            "`im:history` for DMs)."
        )
    elif error in ("not_in_channel", "channel_not_found"):
        how = "Truce is not a member here: `/invite @Truce`, then ask again."
    elif error in ("ratelimited", "http_429"):
        how = "Slack is limiting how often Truce may read conversations: ask again in a minute."
    else:
        how = f"Slack answered `{escape(error)}`; ask again in a minute."
    return f":warning: I couldn't read {what}, so I went by your message alone. {how}"


def note_blocks(finding: Finding) -> list[dict]:
    return [context(unread_note(*finding.unread))] if finding.unread else []


def unsure_message(finding: Finding, surface: str, asker: str = "") -> dict:
    names = " or ".join(f"*{escape(c.title.lower())}*" for c in finding.closest)
    read = f"{what_was_read(finding.conversation)}. " if finding.conversation else ""
    text = (
        f":thinking_face: {read}I can't tell for sure what's behind this. "
        + (f"The closest patterns I know are {names}. " if names else "")
        + "Could you tell me a sentence more about what happened between Sales and Marketing?"
    )
    blocks = [section(text)]
    if finding.closest:
        blocks.append(cause_buttons(finding.closest))
    blocks.extend(note_blocks(finding))
    blocks.append(feedback_block(finding, surface, asker))
    return message(to_fallback(text), blocks)


def no_friction_message(finding: Finding, surface: str, asker: str = "") -> dict:
    read = f"{what_was_read(finding.conversation)} and I" if finding.conversation else "I"
    text = (
        f":relieved: {read} don't see friction between Sales and Marketing in this. "
        "If there is some, tell me a sentence more about what went wrong, or type `/remedy` to browse the playbook."
    )
    return message(
        to_fallback(text), [section(text), *note_blocks(finding), feedback_block(finding, surface, asker)]
    )


def help_message(playbook: Playbook) -> dict:
    text = (
        ":wave: I'm Truce. Mention me with what's going on between Sales and Marketing "
        "(for example _“@Truce the leads from the webinar were junk again”_) and I'll name the likely cause "
        "and suggest concrete next steps, right here in the thread."
    )
    how = (
        "• *In a heated thread*, mention me (_“@Truce can you help here?”_): I read the thread and say what most of it is about.\n"
        "• *At the top of a channel*, _“@Truce thoughts?”_ reads the channel's last hour (at most 30 messages).\n"
        "• *In private*, open my Messages tab and tell me what happened: only you see the answer.\n"
        "• `/remedy` browses the playbook; `/pulse` runs the weekly anonymous check-in."
    )
    causes = ", ".join(c.title.lower() for c in playbook.causes)
    return message(
        to_fallback(text),
        [
            section(text),
            section(how),
            context(
                f"I know these patterns: {escape(causes)}. I read messages only when someone asks, "
                "and I never store them."
            ),
        ],
    )


_EMPHASIS = re.compile(r"(?<![\w:])([*_])([^*_\n]+)\1(?![\w:])")


def to_fallback(mrkdwn_text: str) -> str:
    """Notification text: the same words without *bold* and _italic_ markers (emoji codes kept)."""
    return _EMPHASIS.sub(r"\2", mrkdwn_text)


def diagnosis_message(
    finding: Finding, playbook: Playbook, surface: str, permalink: str | None = None, asker: str = ""
) -> dict:
    if finding.verdict is Verdict.EMPTY:
        return help_message(playbook)
    if finding.verdict is Verdict.FRICTION:
        return friction_message(finding, surface, permalink, asker)
    if finding.verdict is Verdict.UNSURE:
        return unsure_message(finding, surface, asker)
    return no_friction_message(finding, surface, asker)


def error_message() -> dict:
    text = ":warning: Sorry, something went wrong on my side and I couldn't look at this. Please try again in a minute."
    return message(to_fallback(text), [section(text)])
