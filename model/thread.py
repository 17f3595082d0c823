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
# The score of a cause mixes its share of the messages' friction (this much) with the reading of the
# whole conversation joined as one text (the rest): the messages say where it leans, the joined text
# catches what no single message says.
MESSAGE_SHARE = 0.7
# Below this much friction evidence, a conversation is ordinary chatter.
FRICTION_FLOOR = 0.25
# A blame game: at least this many messages that point at the other side, from two or more people.
BLAME_MESSAGES = 3
# A second cause is named when it scores at least this share of the top cause.
SECOND_SHARE = 0.55
# The newest message of a follow-up weighs this many times an ordinary one.
NEWEST_WEIGHT = 3.0
# Chosen on the dev threads (model/data/threads/dev.jsonl) only; the test threads are never tuned on.

_ACCUSATION = re.compile(
    r"\b(?:"
    r"blam(?:e|ed|es|ing)|fault|finger[- ]?point\w*|under the bus|scapegoat\w*|excuses?|"
    r"not (?:our|my) (?:fault|problem|job)|wasn'?t us|on your end|"
    r"(?:your|their) (?:team|reps|people|side|fault|mess|leads|deck|campaign)s?|"
    r"you (?:never|didn'?t|don'?t|guys never|people)|you said|you'?d have|we'?d have|"
    r"(?:they|marketing|sales|reps|the reps) (?:never|didn'?t|dropped|blew|sat on|ignored)|"
    r"because (?:reps|marketing|sales|you|your|they|nobody|someone|the reps)|"
    r"if (?:anyone|someone|you|reps|marketing|sales|your) (?:had|would|logged|called|read|opened|actually|ever|bothered)|"
    r"thanks to (?:you|your|marketing|sales|the reps)|"
    r"maybe (?:open|read|try|if|you|they|someone|check)|every (?:single )?(?:miss|time)|lands on|"
    r"funny|not (?:from )?my team|nobody on (?:the|your|our)|sales bad|marketing bad|the 'who'"
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
    confidence: float  # the dominant cause's score
    second: str | None  # a second cause that is substantial
    count: int  # how many messages point to the dominant cause
    total: int  # how many messages were read
    clearest: int | None  # index of the message that shows the cause most clearly
    ranked: tuple[tuple[str, float], ...]
    per_message: tuple[str, ...]  # each message's own most likely cause (or `none`)

    @property
    def is_friction(self) -> bool:
        return self.label != NONE


def accusing(messages: Sequence[ThreadMessage]) -> list[int]:
    """The messages that point at the other side."""
    return [i for i, m in enumerate(messages) if _ACCUSATION.search(m.text or "")]


def is_blame_exchange(messages: Sequence[ThreadMessage], pointing: list[int]) -> bool:
    return len(pointing) >= BLAME_MESSAGES and len({messages[i].author for i in pointing}) >= 2


def joined(messages: Sequence[ThreadMessage]) -> str:
    return "\n".join(m.text for m in messages)


def diagnose_thread(
    proba: np.ndarray,
    classes: Sequence[str],
    messages: Sequence[ThreadMessage],
    joined_proba: np.ndarray | None = None,
) -> ThreadDiagnosis:
    """`proba[i]` is the classifier's distribution for `messages[i]`, `joined_proba` the one for the
    whole conversation as one text (`joined(messages)`); rows follow `classes`."""
    classes = [str(c) for c in classes]
    n = len(messages)
    if n == 0:
        return ThreadDiagnosis(NONE, 0.0, None, 0, 0, None, (), ())
    proba = np.asarray(proba, dtype=float)
    none_at = classes.index(NONE)
    cause_idx = [i for i, c in enumerate(classes) if c != NONE]
    weights = np.array([max(m.weight, 0.0) for m in messages], dtype=float)
    whole = proba[-1] if joined_proba is None else np.asarray(joined_proba, dtype=float)

    per_message = []
    for row in proba:
        best = max(cause_idx, key=lambda j: row[j])
        per_message.append(
            classes[best] if row[best] >= MESSAGE_CAUSE_FLOOR and row[best] >= row[none_at] * 0.6 else NONE
        )

    # Each cause's share of the friction the messages carry (chatter carries little and dilutes nothing),
    # mixed with the whole conversation's reading.
    friction = weights * (1.0 - proba[:, none_at])
    mass = (proba * friction[:, None]).sum(axis=0)[cause_idx]
    share = mass / max(float(mass.sum()), 1e-12)
    whole_share = whole[cause_idx] / max(1.0 - float(whole[none_at]), 1e-12)
    scores = MESSAGE_SHARE * share + (1 - MESSAGE_SHARE) * whole_share
    evidence = MESSAGE_SHARE * float(friction.sum() / weights.sum()) + (1 - MESSAGE_SHARE) * (
        1.0 - float(whole[none_at])
    )

    ranked = sorted(
        ((classes[j], float(v)) for j, v in zip(cause_idx, scores, strict=True)), key=lambda kv: -kv[1]
    )
    pointing = accusing(messages)
    if is_blame_exchange(messages, pointing):
        # The exchange is the cause: the topic words each side uses are what they accuse each other of.
        top = ranked[0][1]
        ranked = [(BLAME, max(top, dict(ranked)[BLAME]) + 1e-6)] + [kv for kv in ranked if kv[0] != BLAME]
    elif evidence < FRICTION_FLOOR:
        return ThreadDiagnosis(
            NONE, 1.0 - evidence, None, 0, n, None, ((NONE, 1.0 - evidence), *ranked), tuple(per_message)
        )
    label, best = ranked[0]

    second = None
    if len(ranked) > 1 and ranked[1][1] >= SECOND_SHARE * best:
        second_label = ranked[1][0]
        if sum(1 for p in per_message if p == second_label) >= 2:
            second = second_label

    if label == BLAME:
        about = set(pointing) | {i for i, p in enumerate(per_message) if p == BLAME}
    else:
        about = {i for i, p in enumerate(per_message) if p == label}
    j = classes.index(label)
    clearest = max(about, key=lambda i: proba[i, j]) if about else None
    return ThreadDiagnosis(label, best, second, len(about), n, clearest, tuple(ranked), tuple(per_message))


# ---- evaluation on labelled threads (model/data/threads/*.jsonl) ------------------------------------
TRUCE_MENTION = re.compile(r"<@U0TRUCEBOT(?:\|[^>]{0,80})?>")


def thread_messages(record: dict) -> list[ThreadMessage]:
    """A labelled thread as the bot would read it: Truce's own handle removed, empty messages dropped."""
    out = []
    for m in record.get("messages") or []:
        text = TRUCE_MENTION.sub(" ", str(m.get("text") or "")).strip()
        if text:
            out.append(ThreadMessage(text, str(m.get("who") or "")))
    return out


def load_threads(path) -> list[dict]:
    import json

    records = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
                raise ValueError(f'{path}:{number}: each line needs a "messages" list')
            records.append(record)
    return records


def evaluate_threads(classifier, records: Sequence[dict]) -> dict:
    """Dominant-cause accuracy (and top 2) of `diagnose_thread` on labelled threads."""
    from model.metrics import evaluate

    truth, predicted, top2_hits, seconds = [], [], [], []
    for record in records:
        messages = thread_messages(record)
        proba = classifier.predict_proba([m.text for m in messages] + [joined(messages)])
        result = diagnose_thread(proba[:-1], classifier.classes, messages, proba[-1])
        truth.append(record["label"])
        predicted.append(result.label)
        causes = [label for label, _ in result.ranked if label != NONE][:2]
        top2_hits.append(record["label"] == result.label or record["label"] in causes)
        if record.get("second"):
            seconds.append(result.second == record["second"] or result.label == record["second"])
    metrics = evaluate(truth, predicted)
    metrics["threads"] = len(records)
    metrics["top2_accuracy"] = round(sum(top2_hits) / max(len(top2_hits), 1), 4)
    metrics["second_found"] = round(sum(seconds) / len(seconds), 4) if seconds else None
    metrics["blame_recall"] = metrics["per_label"].get(BLAME, {}).get("recall")
    return metrics
