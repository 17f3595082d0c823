"""Playbook cards for /remedy, the "Diagnose friction" shortcut and App Home. Pure builders.

A card shared in the channel is always rebuilt from the playbook by cause id: the words a person
typed into /remedy never reach the public post.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot import ids
from bot.services.diagnose import Finding, Verdict, confidence_words
from bot.views.blocks import (
    SECTION_TEXT_MAX,
    actions,
    button,
    clip,
    context,
    divider,
    escape,
    header,
    message,
    section,
)
from bot.views.diagnosis import feedback_block
from bot.views.experiments import try_buttons, works_line
from model.playbook import Cause, Playbook

if TYPE_CHECKING:
    from bot.services.experiments import Works

HELP = "help"  # the Share button's value for the help card; otherwise a cause id
MODAL_TITLE_MAX = 24
SOUNDS_LIKE_SHOWN = 2


def cause_button(cause: Cause, label: str | None = None) -> dict:
    return button(label or cause.title, f"{ids.CAUSE_OPEN_PREFIX}{cause.id}", cause.id)


def share_button(value: str) -> dict:
    return button(":mega: Share in channel", ids.REMEDY_SHARE, value)


def _seed_lines(cause: Cause) -> str:
    if not cause.seed_lines:
        return "the leaders' answers"
    lines = ", ".join(str(n) for n in cause.seed_lines)
    return f"leaders' answer{'s' if len(cause.seed_lines) > 1 else ''} (line{'s' if len(cause.seed_lines) > 1 else ''} {lines})"


def _remedies(cause: Cause) -> str:
    return "\n".join(
        f"{n}. *{escape(r.title)}* — {escape(r.detail)}" for n, r in enumerate(cause.remedies, 1)
    )


def _template(cause: Cause) -> str:
    assert cause.template is not None
    title = f"*Template: {escape(cause.template.title)}* (copy, fill in, pin)\n"
    body_max = SECTION_TEXT_MAX - len(title) - 8
    return f"{title}```{clip(escape(cause.template.text), body_max)}```"


def cause_blocks(cause: Cause) -> list[dict]:
    """Everything the playbook says about one cause: what, why (and its source), remedies, template."""
    blocks = [
        header(f"{cause.emoji} {cause.title}"),
        section(escape(cause.description)),
        section(f"*Why it happens*\n{escape(cause.why)}"),
    ]
    if cause.seed_summary:
        blocks.append(context(f":scroll: From the {_seed_lines(cause)}: {escape(cause.seed_summary)}"))
    if cause.sounds_like:
        quotes = " · ".join(f"“{escape(s)}”" for s in cause.sounds_like[:SOUNDS_LIKE_SHOWN])
        blocks.append(context(f"Sounds like: {quotes}"))
    blocks.append(section(f"*What to do about it*\n{_remedies(cause)}"))
    if cause.template:
        blocks.append(section(_template(cause)))
    return blocks


def _cause_fallback(cause: Cause) -> str:
    return f"{cause.title}: {cause.description} First step: {cause.remedies[0].title}."


def works_blocks(cause: Cause, works: Mapping[str, Works] | None) -> list[dict]:
    """ "What works here": remedies of this cause tried in enough channels of the workspace."""
    lines = [works_line(r.title, works[r.title]) for r in cause.remedies if works and r.title in works]
    return [context("\n".join(lines))] if lines else []


def cause_message(cause: Cause, works: Mapping[str, Works] | None = None) -> dict:
    """`/remedy leads`: the card, only for the person who asked, with Try and Share buttons."""
    blocks = cause_blocks(cause)
    blocks += works_blocks(cause, works)
    blocks.append(try_buttons(cause, len(cause.remedies)))
    blocks.append(actions(share_button(cause.id)))
    return message(_cause_fallback(cause), blocks)


def shared_cause_message(cause: Cause, user_id: str) -> dict:
    """The same card posted publicly by someone who chose to share it: anyone in the channel may Try
    one of its remedies (no Share button: it is shared already)."""
    blocks = cause_blocks(cause)
    blocks.append(context(f"Shared by <@{user_id}> with `/remedy {cause.id}`"))
    blocks.append(try_buttons(cause, len(cause.remedies)))
    return message(_cause_fallback(cause), blocks)


def _intro() -> str:
    return (
        ":wave: *Truce* names what's behind friction between Sales and Marketing and suggests concrete "
        "next steps. Mention `@Truce` in a shared channel, use *Diagnose friction* on any message "
        "(only you see the answer), or describe a situation here: `/remedy the leads from the webinar were junk`."
    )


def _cause_list(playbook: Playbook) -> list[dict]:
    return [
        section(
            f"{cause.emoji} *{escape(cause.title)}* — {escape(cause.description)}",
            accessory=cause_button(cause, "Open"),
        )
        for cause in playbook.causes
    ]


def help_message(playbook: Playbook) -> dict:
    """`/remedy` or `/remedy help`: what Truce does and every cause, each opening its card."""
    blocks = [
        section(_intro()),
        context(
            "Look up a cause by name: `/remedy leads`, `/remedy roles`, `/remedy budget fight`. "
            f"The playbook knows {len(playbook)} causes:"
        ),
        *_cause_list(playbook),
        actions(share_button(HELP)),
    ]
    return message(f"Truce knows {len(playbook)} causes of Sales–Marketing friction.", blocks)


def shared_help_message(playbook: Playbook, user_id: str) -> dict:
    blocks = [section(_intro()), *_cause_list(playbook), context(f"Shared by <@{user_id}> with `/remedy`")]
    return message(f"Truce knows {len(playbook)} causes of Sales–Marketing friction.", blocks)


def _compact(cause: Cause, prefix: str = "") -> dict:
    return section(
        f"{prefix}{cause.emoji} *{escape(cause.title)}* — {escape(cause.description)}",
        accessory=cause_button(cause, "Open"),
    )


def diagnosis_result_message(
    finding: Finding,
    playbook: Playbook,
    surface: str = "remedy",
    asker: str = "",
    works: Mapping[str, Works] | None = None,
) -> dict:
    """`/remedy <a situation>`: the best cause's card, the runner-up, and feedback buttons."""
    if finding.verdict is Verdict.UNSURE and finding.closest:
        return unsure_message(finding, surface, asker)
    if finding.verdict is not Verdict.FRICTION or finding.cause is None:
        return no_fit_message(finding, playbook, surface, asker)
    best = finding.cause
    sure = confidence_words(finding.diagnosis.confidence if finding.diagnosis else 0.0)
    lead = f"{sure} this is *{escape(best.title.lower())}*."
    runner_up = next((c for c in finding.closest if c.id != best.id), None)
    blocks = [section(lead)]
    if finding.evidence:
        quoted = ", ".join(f"“{escape(term)}”" for term in finding.evidence)
        blocks.append(context(f"Why I think so: words like {quoted} are typical of it."))
    blocks += cause_blocks(best)
    blocks += works_blocks(best, works)
    blocks.append(try_buttons(best, len(best.remedies)))
    if runner_up is not None:
        blocks += [divider(), _compact(runner_up, "*Could also be:* ")]
    blocks.append(actions(share_button(best.id)))
    blocks.append(
        context("Only you can see this. *Share in channel* posts the playbook card, not your words.")
    )
    blocks.append(feedback_block(finding, surface, asker))
    return message(f"{sure} this is {best.title.lower()}. First step: {best.remedies[0].title}.", blocks)


def unsure_message(finding: Finding, surface: str = "remedy", asker: str = "") -> dict:
    """Something is there but no cause stands out: the two closest, and a request for more."""
    best, *rest = finding.closest
    text = (
        ":thinking_face: I can't tell for sure what's behind this. These are the closest patterns; "
        "a sentence more about what happened between Sales and Marketing would help."
    )
    blocks = [section(text), _compact(best, "*Closest:* ")]
    if rest:
        blocks.append(_compact(rest[0], "*Runner-up:* "))
    blocks.append(feedback_block(finding, surface, asker))
    fallback = f"I can't tell for sure. The closest pattern is {best.title.lower()}."
    return message(fallback, blocks)


def no_fit_message(finding: Finding, playbook: Playbook, surface: str = "remedy", asker: str = "") -> dict:
    """Nothing in the playbook fits: say so, list the causes, and let the person teach Truce."""
    text = (
        ":relieved: I don't recognise Sales–Marketing friction in that. If there is some, "
        "tell me a sentence more, or pick the closest cause below."
    )
    blocks = [section(text), *_cause_list(playbook)]
    if finding.verdict is not Verdict.EMPTY:
        blocks.append(feedback_block(finding, surface, asker))
    return message("I don't recognise Sales–Marketing friction in that. Here are the causes I know.", blocks)


def nothing_to_read_message() -> dict:
    text = "That message has no text I can read, so I can't say what's behind it."
    return message(text, [section(f":eyes: {text}")])


def private_reply(reply: dict) -> dict:
    """A diagnosis asked for through the shortcut: say plainly that nobody else sees it."""
    note = context(":lock: Only you can see this. Nobody is told that you asked.")
    return message(reply.get("text", ""), [note, *reply.get("blocks", [])])


def cause_modal(cause: Cause) -> dict:
    """A cause opened from App Home (there is no channel to answer in)."""
    return {
        "type": "modal",
        "callback_id": ids.PLAYBOOK_VIEW,
        "title": {"type": "plain_text", "text": clip("Truce playbook", MODAL_TITLE_MAX), "emoji": True},
        "close": {"type": "plain_text", "text": "Close", "emoji": True},
        "blocks": cause_blocks(cause)
        + [context(f"Share it in a channel with `/remedy {cause.id}` and the *Share in channel* button.")],
    }


def unknown_cause_message() -> dict:
    text = "I don't know that cause any more. Type /remedy to see the current playbook."
    return message(text, [section(f":warning: {text.replace('/remedy', '`/remedy`')}")])
