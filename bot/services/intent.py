"""What a person wants when they mention Truce: help, a look at the conversation, or a diagnosis of
their own words.

"@Truce help" and "what can you do?" ask for help. "@Truce thoughts?", "can you help here?", "this is
getting heated" summon Truce to the conversation around them; they carry no complaint of their own.
Anything else is read as the complaint itself.
"""

from __future__ import annotations

import re
from enum import StrEnum

from model.text import to_plain


class Intent(StrEnum):
    EMPTY = "empty"
    HELP = "help"
    SUMMON = "summon"
    MESSAGE = "message"


_HELP = re.compile(
    r"^(?:hi|hey|hello|yo)?[\s,!]*(?:"
    r"help(?: me)?(?: please| pls)?|"
    r"(?:what|how) (?:can|could) (?:i|we) (?:use you|use this|use truce|ask you)(?: for)?|"
    r"what (?:do|can) you do|what are you(?: for)?|who are you|what is this(?: bot)?|"
    r"how (?:does|do) (?:this|it|you|truce) work|how do(?:es)? (?:i|we|one) use (?:this|you|it|truce)|"
    r"commands|usage|instructions|what are (?:your|the) commands|tell me about (?:yourself|truce)"
    r")[\s?!.]*(?:please|pls|thanks|thx)?[\s?!.]*$",
    re.I,
)

# Words that call Truce to the conversation without saying what is wrong.
_SUMMON_WORDS = re.compile(
    r"\b(?:thoughts?|opinions?|take|thread|heated|above|this|here|chat|channel|discussion|conversation|"
    r"going on|look|weigh in|chime in|mediate|referee|diagnos\w*|read|make of|help|ideas?|advice|"
    r"think|view|input|verdict|sense|fight|argument|mess|situation|calm|peace|truce|"
    r"what (?:now|next)|what (?:should|do|can|could) (?:i|we) do)\b",
    re.I,
)
_WORD = re.compile(r"[\w']+")
SUMMON_MAX_WORDS = 14


def classify_intent(text: str) -> Intent:
    """`text` is the mention without Truce's own handle (Slack markup allowed)."""
    plain = to_plain(text or "")
    words = _WORD.findall(plain)
    if not words:
        return Intent.EMPTY
    if _HELP.match(plain.strip()):
        return Intent.HELP
    if len(words) <= SUMMON_MAX_WORDS and (_SUMMON_WORDS.search(plain) or len(words) <= 3):
        return Intent.SUMMON
    return Intent.MESSAGE
