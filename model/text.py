"""Turning Slack's markup into plain words, for the features and for display."""

from __future__ import annotations

import html
import re
import unicodedata

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#C[A-Z0-9]+(?:\|([^>]*))?>")
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_EMOJI = re.compile(r":([a-z0-9_+\-']+):")
_CODE_BLOCK = re.compile(r"```.*?```", re.S)
_REPEAT = re.compile(r"(.)\1{2,}")
_SPACE = re.compile(r"\s+")


def strip_mentions(text: str, bot_user_id: str | None = None) -> str:
    """Remove the mention of Truce itself (and leading mentions) so what is left is the message."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return _SPACE.sub(" ", text).strip()


def to_plain(text: str) -> str:
    """Slack markup to readable text: `<@U1>` -> `@someone`, `<url|label>` -> `label`, entities decoded."""
    text = _USER.sub("@someone", text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(1) or "channel"), text)
    text = _SUBTEAM.sub(lambda m: m.group(1) or "@team", text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or "link", text)
    text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()


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
    """What the features see: lowercase words, markup reduced to tokens, emoji spelled out."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = _CODE_BLOCK.sub(" codeblock ", text)
    text = _USER.sub(" usermention ", text)
    text = _CHANNEL.sub(lambda m: " channel " + (m.group(1) or "").replace("-", " "), text)
    text = _SUBTEAM.sub(" usergroup ", text)
    text = _SPECIAL.sub(" atchannel ", text)
    text = _LINK.sub(lambda m: " link " + (m.group(2) or ""), text)
    text = html.unescape(text)
    text = _EMOJI.sub(lambda m: " emoji_" + m.group(1).replace("-", "_") + " ", text)
    text = _unicode_emoji_to_words(text)
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("`", " ")
    text = _REPEAT.sub(r"\1\1", text)
    return _SPACE.sub(" ", text).strip()
