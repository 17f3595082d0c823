"""Someone asked Truce (a mention or a DM): decide what to read, read it, and diagnose it.

- "help", "what can you do?" -> help.
- A mention inside a thread -> the thread, with the mention's own words as its newest message.
- A top-level mention that only summons Truce ("thoughts?") -> the channel's last hour.
- Anything else -> the asker's own words, as before.
When a read fails, the asker's own words are diagnosed and the finding says what could not be read.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from bot.services.conversation import Conversation, ConversationReader
from bot.services.diagnose import Diagnoser, Finding, Said, Verdict, unread
from bot.services.intent import Intent, classify_intent


@dataclass(frozen=True)
class Asked:
    """One request to Truce, as the listeners see it."""

    team: str
    channel: str
    user: str
    text: str  # raw, Slack markup and Truce's handle included
    ts: str
    thread_ts: str | None = None
    bot_user_id: str | None = None
    bot_id: str | None = None

    @property
    def in_thread(self) -> bool:
        return bool(self.thread_ts) and self.thread_ts != self.ts


@dataclass(frozen=True)
class Answer:
    finding: Finding | None  # None: show help
    read: str | None = None  # "thread" / "channel" when a conversation was read


def previous_label(conversation: Conversation) -> str | None:
    return conversation.truce_labels[-1] if conversation.truce_labels else None


class Asking:
    def __init__(self, diagnoser: Diagnoser, reader: ConversationReader):
        self.diagnoser = diagnoser
        self.reader = reader

    def answer(self, client: WebClient, asked: Asked, read_channel: bool = True) -> Answer:
        own = self.diagnoser.own_words(asked.text, asked.bot_user_id)
        intent = classify_intent(own)
        if intent is Intent.HELP or (intent is Intent.EMPTY and not asked.in_thread):
            return Answer(None)
        if asked.in_thread:
            return self._thread(client, asked, own)
        if intent is Intent.SUMMON and read_channel:
            finding = self.diagnoser.diagnose(own, asked.bot_user_id)
            if finding.verdict is not Verdict.FRICTION:  # the mention carries no complaint of its own
                return self._channel(client, asked, own, finding)
            return Answer(finding)
        return Answer(self.diagnoser.diagnose(own, asked.bot_user_id))

    def _thread(self, client: WebClient, asked: Asked, own: str) -> Answer:
        conversation = self.reader.thread(
            client, asked.team, asked.channel, asked.thread_ts or asked.ts, asked.bot_user_id, asked.bot_id
        )
        if not conversation.ok:
            return Answer(
                unread(self.diagnoser.diagnose(own, asked.bot_user_id), "thread", conversation.error)
            )
        said = [Said(m.text, m.user, m.ts) for m in conversation.messages if m.ts != asked.ts]
        said.append(Said(own, asked.user, asked.ts))  # the mention itself, without Truce's handle
        finding = self.diagnoser.diagnose_conversation(
            said, "thread", own, previous_label(conversation), asked.bot_user_id
        )
        return Answer(finding, "thread")

    def _channel(self, client: WebClient, asked: Asked, own: str, own_finding: Finding) -> Answer:
        conversation = self.reader.history(client, asked.channel, asked.ts, asked.bot_user_id, asked.bot_id)
        if not conversation.ok:
            return Answer(unread(own_finding, "channel", conversation.error))
        said = [Said(m.text, m.user, m.ts) for m in conversation.messages if m.ts != asked.ts]
        if not said:
            return Answer(own_finding)
        return Answer(
            self.diagnoser.diagnose_conversation(said, "channel", own, None, asked.bot_user_id), "channel"
        )
