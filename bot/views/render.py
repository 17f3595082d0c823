"""Block Kit to readable terminal text, for the offline console. Pure."""

from __future__ import annotations

import re
import textwrap

_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")


def _text(obj: dict | None) -> str:
    if not obj:
        return ""
    text = obj.get("text", "")
    if obj.get("type") == "mrkdwn":
        text = _BOLD.sub(lambda m: m.group(1).upper() if len(m.group(1)) < 40 else m.group(1), text)
        text = _ITALIC.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _element(el: dict) -> str:
    kind = el.get("type")
    if kind == "button":
        return f"[ {_text(el.get('text'))} ]"
    if kind in ("static_select", "radio_buttons", "checkboxes"):
        options = [_text(o.get("text")) for o in el.get("options", [])]
        for group in el.get("option_groups", []):
            options += [_text(o.get("text")) for o in group.get("options", [])]
        label = _text(el.get("placeholder")) or "choose"
        return f"[ {label} ▾ {' | '.join(options[:14])}{' …' if len(options) > 14 else ''} ]"
    if kind in ("mrkdwn", "plain_text"):
        return _text(el)
    if kind == "image":
        return f"(image: {el.get('alt_text', '')})"
    return f"({kind})"


def _wrap(text: str, width: int, indent: str) -> list[str]:
    lines = []
    for para in text.split("\n"):
        lines.extend(
            textwrap.wrap(para, width, initial_indent=indent, subsequent_indent=indent + "  ") or [indent]
        )
    return lines


def render_blocks(blocks: list[dict], width: int = 88, indent: str = "  ") -> list[str]:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = _text(block.get("text"))
            lines += [indent + title, indent + "=" * min(len(title), width)]
        elif kind == "section":
            if block.get("text"):
                lines += _wrap(_text(block["text"]), width, indent)
            for field in block.get("fields", []):
                lines += _wrap(_text(field), width, indent + "  ")
            if block.get("accessory"):
                lines.append(indent + "  " + _element(block["accessory"]))
        elif kind == "context":
            lines += _wrap(" ".join(_element(e) for e in block.get("elements", [])), width, indent + "· ")
        elif kind == "actions":
            lines.append(indent + "  ".join(_element(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append(indent + "-" * 40)
        elif kind == "image":
            lines.append(indent + f"(chart: {block.get('alt_text', '')})")
        elif kind == "input":
            lines.append(indent + f"{_text(block.get('label'))}: {_element(block.get('element', {}))}")
        elif kind == "rich_text":
            continue
    return lines


def render_message(message: dict, width: int = 88) -> str:
    blocks = message.get("blocks") or []
    if blocks:
        return "\n".join(render_blocks(blocks, width))
    return "\n".join(_wrap(message.get("text", ""), width, "  "))
