"""From what people wrote, as Slack sends it, to what Truce should say about it.

One message (a mention with a complaint of its own, a DM, the shortcut, /remedy) is read on its own
words. A conversation (the thread Truce is called into, or the channel's last hour) is read as a
whole by `model.thread`: the cause the messages carry most, and how many carry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from enum import StrEnum

from model.labels import NONE
from model.playbook import Cause, Playbook
from model.predict import Classifier, Diagnosis
from model.text import strip_mentions, to_plain
from model.thread import NEWEST_WEIGHT, ThreadMessage, read_thread

# Enough text to classify well; a 40,000-character paste is cut before anything else reads it.
MAX_CLASSIFY_CHARS = 4000
# A conversation message is cut shorter: a thread's meaning is in its many messages.
MAX_THREAD_MESSAGE_CHARS = 1500


class Verdict(StrEnum):
    FRICTION = "friction"  # a cause is likely: name it and give remedies
    UNSURE = "unsure"  # something is there but not clear: show the two closest, ask for more
    NONE = "none"  # no Sales-Marketing friction seen
    EMPTY = "empty"  # nothing to read: show help


@dataclass(frozen=True)
class ConversationRead:
    """What a diagnosis of a conversation says about what was read (counts only, never who or what)."""

    kind: str  # "thread" or "channel"
    total: int  # messages read
    count: int = 0  # messages that point to the cause
    second: Cause | None = None
    clearest_ts: str | None = None  # the message that shows the cause most clearly
    previous: Cause | None = None  # what Truce said earlier in this thread, if anything


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    text: str  # the asker's own words, without the mention of Truce (Slack markup as sent)
    diagnosis: Diagnosis | None = None
    cause: Cause | None = None
    closest: tuple[Cause, ...] = ()
    evidence: tuple[str, ...] = ()
    conversation: ConversationRead | None = None
    # When Truce was asked about a conversation it could not read: (what, Slack's error code).
    # The diagnosis then rests on the asker's own words, and the reply says how to grant access.
    unread: tuple[str, str] | None = None

    @property
    def label(self) -> str:
        return self.diagnosis.label if self.diagnosis else NONE


@dataclass(frozen=True)
class Said:
    """One person's message in a conversation, as the diagnoser needs it."""

    text: str
    author: str
    ts: str = ""


def counted_channel(channel_id: str | None, channel_name: str = "") -> str | None:
    """The channel a diagnosis is counted in, or None where keeping it would narrow down who asked:
    a DM (ids start with D; /remedy names it "directmessage") or a group DM ("mpdm-...")."""
    if not channel_id or channel_id.startswith("D"):
        return None
    if channel_name == "directmessage" or channel_name.startswith("mpdm-"):
        return None
    return channel_id


def confidence_words(p: float) -> str:
    if p >= 0.8:
        return "I'm fairly sure"
    if p >= 0.6:
        return "I think"
    return "My best guess is"


def unread(finding: Finding, kind: str, error: str) -> Finding:
    return replace(finding, unread=(kind, error))


class Diagnoser:
    """`gate` (a semaphore) bounds how many diagnoses run at once in a process: classifying is pure
    Python and NumPy under the GIL, so more than a couple at a time only adds switching and takes the
    interpreter from the threads acknowledging Slack's requests (bench/ack.py). Only the CPU work is
    gated: reading a conversation and posting the answer are not held up."""

    def __init__(
        self, classifier: Classifier, playbook: Playbook, gate: AbstractContextManager | None = None
    ):
        self.classifier = classifier
        self.playbook = playbook
        self._gate = gate if gate is not None else nullcontext()

    def own_words(self, raw_text: str, bot_user_id: str | None = None) -> str:
        """The message without Truce's handle, cut to what the model reads."""
        return strip_mentions((raw_text or "")[: MAX_CLASSIFY_CHARS * 2], bot_user_id)[:MAX_CLASSIFY_CHARS]

    def diagnose(self, raw_text: str, bot_user_id: str | None = None) -> Finding:
        with self._gate:
            return self._diagnose(raw_text, bot_user_id)

    def _diagnose(self, raw_text: str, bot_user_id: str | None) -> Finding:
        text = self.own_words(raw_text, bot_user_id)
        if not to_plain(text).strip(" .?!@"):
            return Finding(Verdict.EMPTY, text)
        diagnosis = self.classifier.predict(text)
        causes = [self.playbook.get(label) for label, _ in diagnosis.ranked if label != NONE]
        causes = [c for c in causes if c is not None]
        if diagnosis.is_friction:
            cause = self.playbook[diagnosis.label]
            evidence = tuple(self.classifier.explain(text, diagnosis.label, cause.cues))
            return Finding(Verdict.FRICTION, text, diagnosis, cause, tuple(causes[1:3]), evidence)
        best_cause_p = max((p for label, p in diagnosis.ranked if label != NONE), default=0.0)
        verdict = Verdict.UNSURE if best_cause_p >= self.classifier.threshold / 2 else Verdict.NONE
        return Finding(verdict, text, diagnosis, None, tuple(causes[:2]))

    def diagnose_conversation(
        self,
        said: Sequence[Said],
        kind: str,
        asker_text: str = "",
        previous_label: str | None = None,
        bot_user_id: str | None = None,
    ) -> Finding:
        """The conversation as a whole. `said` is oldest first; in a follow-up (Truce already answered
        here) the newest message weighs most. `asker_text` is what the feedback buttons carry."""
        with self._gate:
            return self._diagnose_conversation(said, kind, asker_text, previous_label, bot_user_id)

    def _diagnose_conversation(
        self,
        said: Sequence[Said],
        kind: str,
        asker_text: str,
        previous_label: str | None,
        bot_user_id: str | None,
    ) -> Finding:
        messages = []
        kept: list[Said] = []
        for s in said:
            text = strip_mentions(s.text[: MAX_THREAD_MESSAGE_CHARS * 2], bot_user_id)
            if not to_plain(text).strip(" .?!@"):
                continue
            kept.append(s)
            messages.append(ThreadMessage(text[:MAX_THREAD_MESSAGE_CHARS], s.author))
        previous = self.playbook.get(previous_label) if previous_label else None
        if previous is not None and messages:
            # A follow-up answers what Truce said: the newest message outweighs all the others together,
            # and stands in for the joined reading of the conversation.
            weight = max(NEWEST_WEIGHT, 2.0 * (len(messages) - 1))
            messages[-1] = ThreadMessage(messages[-1].text, messages[-1].author, weight)
        if not messages:
            return Finding(
                Verdict.EMPTY, asker_text, conversation=ConversationRead(kind, 0, previous=previous)
            )
        # A follow-up is read without the joined conversation: the newest message's own reading counts.
        result = read_thread(
            self.classifier, messages, whole=previous is None, joined_chars=MAX_CLASSIFY_CHARS
        )
        ranked = result.ranked
        confidence = result.confidence
        diagnosis = Diagnosis(result.label, confidence, ranked)
        read = ConversationRead(
            kind=kind,
            total=result.total,
            count=result.count,
            second=self.playbook.get(result.second) if result.second else None,
            clearest_ts=kept[result.clearest].ts if result.clearest is not None else None,
            previous=previous,
        )
        causes = [c for c in (self.playbook.get(label) for label, _ in ranked if label != NONE) if c]
        if result.is_friction:
            cause = self.playbook[result.label]
            return Finding(Verdict.FRICTION, asker_text, diagnosis, cause, tuple(causes[1:3]), (), read)
        verdict = Verdict.UNSURE if any(p != NONE for p in result.per_message) else Verdict.NONE
        return Finding(verdict, asker_text, diagnosis, None, tuple(causes[:2]), (), read)
