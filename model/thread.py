"""Diagnosing a conversation as a whole: which cause the messages carry most, and how many carry it.

A thread is read message by message (each scored by the same classifier) and as an exchange: some
causes live in the back-and-forth rather than in any one message. In a blame game each message is
about a lead, a launch or a deck, and only the accusations going both ways show the cause, so the
exchange is scored from who points at whom, not from the topic words.

Pure functions over probabilities: no Slack, no I/O. `bot` hands in the messages it read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.labels import NONE

BLAME = "blame_game"

# A message counts towards a cause when that cause is its most likely one and at least this likely.
MESSAGE_CAUSE_FLOOR = 0.30
# The dominant cause needs this much of the conversation's (weighted) probability mass ...
DOMINANT_FLOOR = 0.24
# ... and a second cause is named when it carries at least this share of the top cause's score
SECOND_SHARE = 0.55
# The newest message of a follow-up weighs this many times an ordinary one.
NEWEST_WEIGHT = 3.0

_SECOND_PERSON = r"(?:you|your|ur|you guys|y'?all|your team|your people|your reps|your side)"
_THIRD_PERSON = r"(?:they|their|them|marketing|sales|the reps|the sdrs|mktg|that team|those guys)"
_ACCUSATION = re.compile(
    r"\b(?:"
    r"(?:because|thanks to|cause) (?:of )?" + _SECOND_PERSON + r"|"
    r"(?:if|had) "
    + _SECOND_PERSON
    + r" (?:had|would|actually|just|ever|bothered|did|didn'?t|called|followed)|"
    + _SECOND_PERSON
    + r" (?:never|didn'?t|don'?t|won'?t|can'?t|failed|dropped|blew|killed|lost|missed|sat on|ignored)|"
    r"(?:not|isn'?t|wasn'?t|ain'?t) (?:our|my) (?:fault|problem|job)|"
    r"(?:your|their) (?:fault|mess|problem|screw ?up|doing)|"
    r"blam(?:e|ed|ing)|fault|finger[- ]?point\w*|throw\w* (?:us|them|marketing|sales) under|"
    r"scapegoat\w*|on (?:you|them|marketing|sales) for|"
    r"(?:maybe|perhaps) (?:if )?" + _SECOND_PERSON + r"|"
    r"(?:funny|convenient|rich|interesting) how|"
    r"(?:missed|lost|blew|tanked) (?:the |our )?(?:number|quarter|deal|target)\w* because|"
    + _THIRD_PERSON
    + r" (?:never|didn'?t|dropped the ball|blew|killed|sat on)"
    r")\b",
    re.I,
)


@dataclass(frozen=True)
class ThreadMessage:
    text: str
    author: str = ""  # an opaque id, used only to tell authors apart; never shown
    weight: float = 1.0


@dataclass(frozen=True)
class ThreadDiagnosis:
    label: str  # the dominant cause, or `none`
    confidence: float  # the dominant cause's share of the conversation's evidence
    second: str | None  # a second cause that is substantial
    count: int  # how many messages point to the dominant cause
    total: int  # how many messages were read
    clearest: int | None  # index of the message that shows the cause most clearly
    ranked: tuple[tuple[str, float], ...]
    per_message: tuple[str, ...]  # each message's own most likely cause (or `none`)

    @property
    def is_friction(self) -> bool:
        return self.label != NONE


def accusations(text: str) -> int:
    return len(_ACCUSATION.findall(text or ""))


def exchange_score(messages: Sequence[ThreadMessage]) -> tuple[float, list[int]]:
    """How much the thread is an exchange of accusations: 0 for none, towards 1 for a blame game.

    It takes accusations from at least two authors (it's an exchange) or from most messages.
    """
    accusing = [i for i, m in enumerate(messages) if accusations(m.text)]
    if len(accusing) < 2:
        return 0.0, accusing
    authors = {messages[i].author for i in accusing if messages[i].author}
    share = len(accusing) / len(messages)
    if len(authors) < 2 and share < 0.5:
        return 0.0, accusing
    return min(1.0, 0.25 + share), accusing


def diagnose_thread(
    proba: np.ndarray,
    classes: Sequence[str],
    messages: Sequence[ThreadMessage],
) -> ThreadDiagnosis:
    """`proba[i]` is the classifier's distribution for `messages[i]` (rows follow `classes`)."""
    classes = [str(c) for c in classes]
    n = len(messages)
    if n == 0:
        return ThreadDiagnosis(NONE, 0.0, None, 0, 0, None, (), ())
    none_at = classes.index(NONE)
    cause_idx = [i for i, c in enumerate(classes) if c != NONE]
    weights = np.array([max(m.weight, 0.0) for m in messages], dtype=float)

    # Each message's own reading, with a lower bar than a lone message needs: in a heated thread a
    # lukewarm message still says which way the conversation leans.
    per_message = []
    for row in proba:
        best = max(cause_idx, key=lambda j: row[j])
        per_message.append(
            classes[best] if row[best] >= MESSAGE_CAUSE_FLOOR and row[best] >= row[none_at] * 0.6 else NONE
        )

    # Evidence per cause: probability mass from messages, each counted by its weight; messages that
    # are plainly chatter (none dominates) add little, so chatter dilutes nothing.
    friction_weight = weights * (1.0 - proba[:, none_at])
    mass = (proba * friction_weight[:, None]).sum(axis=0)
    total_mass = float(friction_weight.sum()) or 1.0
    score = {classes[j]: float(mass[j]) / total_mass for j in cause_idx}
    carried = np.array([1.0 if label != NONE else 0.0 for label in per_message])
    friction_share = float((carried * weights).sum() / weights.sum())

    exchange, accusing = exchange_score(messages)
    if exchange:
        # The exchange is the cause: the topic words each side uses are what they accuse each other of.
        top_topic = max(score.values())
        score[BLAME] = max(score[BLAME], top_topic * (0.6 + exchange))

    ranked = sorted(score.items(), key=lambda kv: kv[1], reverse=True)
    label, best = ranked[0]
    if best < DOMINANT_FLOOR or (friction_share == 0 and not exchange):
        ranked_all = ((NONE, 1.0 - best), *ranked)
        return ThreadDiagnosis(NONE, 1.0 - best, None, 0, n, None, tuple(ranked_all), tuple(per_message))

    second = None
    if len(ranked) > 1 and ranked[1][1] >= SECOND_SHARE * best:
        second_label = ranked[1][0]
        if sum(1 for p in per_message if p == second_label) >= 2 or ranked[1][1] >= 0.8 * best:
            second = second_label

    if label == BLAME and exchange:
        about = set(accusing) | {i for i, p in enumerate(per_message) if p == BLAME}
    else:
        about = {i for i, p in enumerate(per_message) if p == label}
    j = classes.index(label)
    clearest = max(about, key=lambda i: proba[i, j]) if about else None
    return ThreadDiagnosis(
        label=label,
        confidence=best,
        second=second,
        count=len(about),
        total=n,
        clearest=clearest,
        ranked=tuple(ranked),
        per_message=tuple(per_message),
    )
