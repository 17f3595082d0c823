"""Turning Slack's markup into plain words, for the features and for display.

Every pattern here is bounded and cannot span a `<` or `>`, so a run of unclosed markup (`<http:a<http:a...`)
costs linear time instead of quadratic: each `<` is looked at once, up to the next `<` or `>`.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Bump when `normalize` changes what the features see: a model trained before is then retrained
# (`python -m model train --if-needed` compares it with the artifact's sidecar).
FEATURES_VERSION = 2

# Slack escapes `<`, `>` and `&` inside markup, so no id, URL or label ever contains a raw `<` or `>`.
_LABEL = r"[^<>]{0,500}"
_USER = re.compile(rf"<@[UW][A-Z0-9]{{1,40}}(?:\|{_LABEL})?>")
_CHANNEL = re.compile(rf"<#C[A-Z0-9]{{1,40}}(?:\|({_LABEL}))?>")
_SUBTEAM = re.compile(rf"<!subteam\^[A-Z0-9]{{1,40}}(?:\|({_LABEL}))?>")
_SPECIAL = re.compile(rf"<!(here|channel|everyone)(?:\|{_LABEL})?>")
_DATE = re.compile(rf"<!date\^[^<>|]{{0,200}}\|({_LABEL})>")
_LINK = re.compile(rf"<((?:https?|mailto):[^<>|]{{1,2000}})(?:\|({_LABEL}))?>")
_EMOJI = re.compile(r":([a-z0-9_+\-']{1,100}):")
_CODE_BLOCK = re.compile(r"```.*?```", re.S)
_REPEAT = re.compile(r"(.)\1{2,}")
_SPACE = re.compile(r"\s+")


def strip_mentions(text: str, bot_user_id: str | None = None) -> str:
    """Remove the mention of Truce itself (and leading mentions) so what is left is the message."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|{_LABEL})?>", " ", text)
    return _SPACE.sub(" ", text).strip()


def markup_to_words(text: str) -> str:
    """Slack markup read as the words it shows: `<@U1>` -> `@someone`, `<url|label>` -> `label`,
    a bare link -> `link`, `<#C1|general>` -> `#general`, `<!here>` -> `@here`. Entities stay encoded."""
    text = _USER.sub("@someone", text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(1) or "channel"), text)
    text = _SUBTEAM.sub(lambda m: m.group(1) or "@team", text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    text = _DATE.sub(lambda m: m.group(1), text)
    return _LINK.sub(lambda m: m.group(2) or "link", text)


def to_plain(text: str) -> str:
    """Slack markup to readable text: `<@U1>` -> `@someone`, `<url|label>` -> `label`, entities decoded."""
    return _SPACE.sub(" ", html.unescape(markup_to_words(text))).strip()


def _unicode_emoji_to_words(text: str) -> str:
    out = []
    for ch in text:
        if ord(ch) > 0x2000 and unicodedata.category(ch) == "So":
            name = unicodedata.name(ch, "")
            out.append(f" emoji_{name.lower().replace(' ', '_')} " if name else " ")
        else:
            out.append(ch)
    return "".join(out)


def normalize(text: str) -> str:
    """What the features see: lowercase words, markup read as the words it shows, emoji spelled out."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = _CODE_BLOCK.sub(" codeblock ", text)
    text = html.unescape(markup_to_words(text))
    text = _EMOJI.sub(lambda m: " emoji_" + m.group(1).replace("-", "_") + " ", text)
    text = _unicode_emoji_to_words(text)
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("`", " ")
    text = _REPEAT.sub(r"\1\1", text)
    return _SPACE.sub(" ", text).strip()
