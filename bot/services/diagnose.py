"""From a message as Slack sends it to what Truce should say about it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from model.labels import NONE
from model.playbook import Cause, Playbook
from model.predict import Classifier, Diagnosis
from model.text import strip_mentions, to_plain

# Enough text to classify well; a 40,000-character paste is cut before anything else reads it.
MAX_CLASSIFY_CHARS = 4000


class Verdict(StrEnum):
    FRICTION = "friction"  # a cause is likely: name it and give remedies
    UNSURE = "unsure"  # something is there but not clear: show the two closest, ask for more
    NONE = "none"  # no Sales-Marketing friction seen
    EMPTY = "empty"  # nothing to read: show help


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    text: str  # the message without the mention of Truce, Slack markup as sent
    diagnosis: Diagnosis | None = None
    cause: Cause | None = None
    closest: tuple[Cause, ...] = ()
    evidence: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.diagnosis.label if self.diagnosis else NONE


def confidence_words(p: float) -> str:
    if p >= 0.8:
        return "I'm fairly sure"
    if p >= 0.6:
        return "I think"
    return "My best guess is"


class Diagnoser:
    def __init__(self, classifier: Classifier, playbook: Playbook):
        self.classifier = classifier
        self.playbook = playbook

    def diagnose(self, raw_text: str, bot_user_id: str | None = None) -> Finding:
        # Cut first: whatever reads the text after this (markup patterns, the model) sees at most this much.
        text = strip_mentions((raw_text or "")[:MAX_CLASSIFY_CHARS], bot_user_id)
        if not to_plain(text).strip(" .?!@"):
            return Finding(Verdict.EMPTY, text)
        diagnosis = self.classifier.predict(text)
        causes = [self.playbook.get(label) for label, _ in diagnosis.ranked if label != NONE]
        causes = [c for c in causes if c is not None]
        if diagnosis.is_friction:
            cause = self.playbook[diagnosis.label]
            evidence = tuple(self.classifier.explain(text, diagnosis.label))
            return Finding(Verdict.FRICTION, text, diagnosis, cause, tuple(causes[1:3]), evidence)
        best_cause_p = max((p for label, p in diagnosis.ranked if label != NONE), default=0.0)
        verdict = Verdict.UNSURE if best_cause_p >= self.classifier.threshold / 2 else Verdict.NONE
        return Finding(verdict, text, diagnosis, None, tuple(causes[:2]))
