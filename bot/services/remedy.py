"""What `/remedy <text>` asks for: the help card, one cause by name, or a situation to classify.

A short query that names a cause (its id, title, an alias or a close spelling of them: "leads",
"roles", "budgte fight") is a lookup. Anything else is a description of what happened and goes
to the classifier.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from enum import StrEnum

from model.playbook import Cause, Playbook

HELP_WORDS = frozenset({"", "help", "?", "list", "all", "causes", "playbook", "menu", "index"})
# A lookup is a few words; a sentence is a situation to classify.
MAX_LOOKUP_WORDS = 4
# Enough to compare against names; the classifier gets the whole text.
MAX_LOOKUP_CHARS = 80
CLOSE_SPELLING = 0.8
_STOP = frozenset(
    {"a", "an", "the", "of", "and", "or", "to", "in", "on", "for", "with", "over", "about", "is", "our", "my"}
)
# Words every situation between the two teams shares: they name no cause on their own.
_GENERIC = frozenset({"sales", "marketing", "team", "teams", "us", "them", "vs", "problem", "issue"})
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class QueryKind(StrEnum):
    HELP = "help"
    CAUSE = "cause"
    TEXT = "text"


@dataclass(frozen=True)
class RemedyQuery:
    kind: QueryKind
    text: str  # the query as Slack sent it (entities decoded, whitespace tidied)
    cause: Cause | None = None


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("-", " "))


def _key(text: str) -> str:
    return " ".join(_words(text))


def _names(cause: Cause) -> list[str]:
    return [_key(cause.id.replace("_", " ")), _key(cause.title), *(_key(a) for a in cause.aliases)]


def _vocabulary(cause: Cause) -> set[str]:
    words: set[str] = set()
    for name in _names(cause):
        words.update(w for w in name.split() if w not in _STOP and w not in _GENERIC)
    return words


def _word_matches(word: str, known: str) -> bool:
    if word == known:
        return True
    if min(len(word), len(known)) >= 4 and (known.startswith(word) or word.startswith(known)):
        return True  # "fight" ~ "fighting", "lead" ~ "leads"
    if min(len(word), len(known)) < 4:
        return False
    return difflib.SequenceMatcher(None, word, known).ratio() >= CLOSE_SPELLING


def _exact(key: str, playbook: Playbook) -> Cause | None:
    for cause in playbook.causes:
        if key in _names(cause):
            return cause
    return None


def _close_name(key: str, playbook: Playbook) -> Cause | None:
    """A close spelling of a whole name: "pricng", "leeds", "who own's what"."""
    names = {name: cause for cause in playbook.causes for name in _names(cause)}
    found = difflib.get_close_matches(key, names, n=1, cutoff=CLOSE_SPELLING)
    return names[found[0]] if found else None


def _by_words(words: list[str], playbook: Playbook) -> Cause | None:
    """Every meaningful word of the query belongs to one cause's names: "budget fight", "junk leads"."""
    words = [w for w in words if w not in _STOP and w not in _GENERIC]
    if not words:
        return None
    best: tuple[int, int, Cause] | None = None
    for index, cause in enumerate(playbook.causes):
        vocabulary = _vocabulary(cause)
        if not all(any(_word_matches(w, known) for known in vocabulary) for w in words):
            continue
        exact = sum(w in vocabulary for w in words)
        if best is None or exact > best[0]:
            best = (exact, -index, cause)
        elif exact == best[0]:
            return None  # two causes fit equally well: let the classifier decide
    return best[2] if best else None


def match_cause(query: str, playbook: Playbook) -> Cause | None:
    """The cause a short query names, or None."""
    key = _key(html.unescape(query))
    if not key or len(key) > MAX_LOOKUP_CHARS:
        return None
    exact = _exact(key, playbook)
    if exact is not None or len(key.split()) > MAX_LOOKUP_WORDS:
        return exact
    return _close_name(key, playbook) or _by_words(key.split(), playbook)


def interpret(raw: str, playbook: Playbook) -> RemedyQuery:
    text = " ".join(html.unescape(raw or "").split())
    if text.lower().strip(" ?!.") in HELP_WORDS:
        return RemedyQuery(QueryKind.HELP, text)
    cause = match_cause(text, playbook)
    if cause is not None:
        return RemedyQuery(QueryKind.CAUSE, text, cause)
    return RemedyQuery(QueryKind.TEXT, text)
