"""A small checker for the Block Kit limits Slack enforces (it answers `invalid_blocks` otherwise).

`message_problems(payload)` and `view_problems(view)` return a list of readable problems, empty when
the payload is fine. Tests assert on it; listeners may call it before publishing something large.
"""

from __future__ import annotations

MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
TEXT_MAX = 3000  # section text, context element text, fallback text
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACTION_ID_MAX = 255
BLOCK_ID_MAX = 255
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
SELECT_OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
PLACEHOLDER_MAX = 150
MODAL_TITLE_MAX = 24
PRIVATE_METADATA_MAX = 3000
INPUT_LABEL_MAX = 2000

_SELECTS = {"static_select", "multi_static_select", "radio_buttons", "checkboxes", "overflow"}


def _text_problems(obj: object, where: str, limit: int, required: bool = True) -> list[str]:
    if obj is None:
        return [f"{where}: text is missing"] if required else []
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"{where}: not a text object"]
    text = obj.get("text")
    if not isinstance(text, str):
        return [f"{where}: text is not a string"]
    if required and not text.strip():
        return [f"{where}: text is empty"]
    if len(text) > limit:
        return [f"{where}: text has {len(text)} characters (max {limit})"]
    return []


def _plain_problems(obj: object, where: str, limit: int) -> list[str]:
    problems = _text_problems(obj, where, limit)
    if not problems and obj.get("type") != "plain_text":  # type: ignore[union-attr]
        problems.append(f"{where}: must be plain_text")
    return problems


def _option_problems(option: dict, where: str) -> list[str]:
    problems = _plain_problems(option.get("text"), f"{where} text", OPTION_TEXT_MAX)
    value = option.get("value")
    if not isinstance(value, str) or not value or len(value) > OPTION_VALUE_MAX:
        problems.append(f"{where}: value must be 1..{OPTION_VALUE_MAX} characters")
    return problems


def element_problems(element: dict, where: str) -> list[str]:
    kind = element.get("type")
    problems: list[str] = []
    action_id = element.get("action_id")
    if kind in ("button", *_SELECTS) and action_id is not None and not 0 < len(action_id) <= ACTION_ID_MAX:
        problems.append(f"{where}: action_id must be 1..{ACTION_ID_MAX} characters")
    if kind == "button":
        problems += _plain_problems(element.get("text"), f"{where} button", BUTTON_TEXT_MAX)
        value = element.get("value")
        if value is not None and len(value) > BUTTON_VALUE_MAX:
            problems.append(f"{where}: button value has {len(value)} characters (max {BUTTON_VALUE_MAX})")
    elif kind in _SELECTS:
        options = element.get("options") or []
        for group in element.get("option_groups") or []:
            options = options + (group.get("options") or [])
        if not options:
            problems.append(f"{where}: {kind} has no options")
        if len(options) > SELECT_OPTIONS_MAX:
            problems.append(f"{where}: {len(options)} options (max {SELECT_OPTIONS_MAX})")
        for i, option in enumerate(options):
            problems += _option_problems(option, f"{where} option {i}")
        if "placeholder" in element:
            problems += _plain_problems(element["placeholder"], f"{where} placeholder", PLACEHOLDER_MAX)
    elif kind in ("mrkdwn", "plain_text"):
        problems += _text_problems(element, where, TEXT_MAX)
    elif kind == "image":
        if not element.get("alt_text"):
            problems.append(f"{where}: image without alt_text")
    elif kind is None:
        problems.append(f"{where}: element without a type")
    return problems


def block_problems(block: dict, where: str) -> list[str]:
    kind = block.get("type")
    problems: list[str] = []
    if kind == "section":
        if "text" not in block and not block.get("fields"):
            problems.append(f"{where}: section needs text or fields")
        if "text" in block:
            problems += _text_problems(block["text"], f"{where} section", TEXT_MAX)
        fields = block.get("fields") or []
        if len(fields) > FIELDS_MAX:
            problems.append(f"{where}: {len(fields)} fields (max {FIELDS_MAX})")
        for i, field in enumerate(fields):
            problems += _text_problems(field, f"{where} field {i}", FIELD_TEXT_MAX)
        if block.get("accessory"):
            problems += element_problems(block["accessory"], f"{where} accessory")
    elif kind == "header":
        problems += _plain_problems(block.get("text"), f"{where} header", HEADER_MAX)
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > CONTEXT_ELEMENTS_MAX:
            problems.append(f"{where}: context needs 1..{CONTEXT_ELEMENTS_MAX} elements")
        for i, element in enumerate(elements):
            problems += element_problems(element, f"{where} element {i}")
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements or len(elements) > ACTIONS_ELEMENTS_MAX:
            problems.append(f"{where}: actions needs 1..{ACTIONS_ELEMENTS_MAX} elements")
        ids = [e.get("action_id") for e in elements if e.get("action_id")]
        if len(ids) != len(set(ids)):
            problems.append(f"{where}: duplicate action_id in one block")
        for i, element in enumerate(elements):
            problems += element_problems(element, f"{where} element {i}")
    elif kind == "input":
        problems += _plain_problems(block.get("label"), f"{where} label", INPUT_LABEL_MAX)
        if not isinstance(block.get("element"), dict):
            problems.append(f"{where}: input without an element")
        else:
            problems += element_problems(block["element"], f"{where} element")
    elif kind in ("divider", "image", "rich_text"):
        pass
    else:
        problems.append(f"{where}: unknown block type {kind!r}")
    block_id = block.get("block_id")
    if block_id is not None and not 0 < len(block_id) <= BLOCK_ID_MAX:
        problems.append(f"{where}: block_id must be 1..{BLOCK_ID_MAX} characters")
    return problems


def blocks_problems(blocks: list[dict], max_blocks: int) -> list[str]:
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"{len(blocks)} blocks (max {max_blocks})")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            problems.append(f"block {i}: not an object")
            continue
        problems += block_problems(block, f"block {i} ({block.get('type')})")
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                problems.append(f"block {i}: duplicate block_id {block_id!r}")
            seen.add(block_id)
    return problems


def message_problems(payload: dict) -> list[str]:
    """A chat.postMessage / postEphemeral / response_url / ack body."""
    problems: list[str] = []
    text = payload.get("text")
    blocks = payload.get("blocks")
    if not text and not blocks:
        problems.append("message has neither text nor blocks")
    if not text and blocks:
        problems.append("message has blocks but no fallback text")
    if text is not None and len(text) > TEXT_MAX:
        problems.append(f"fallback text has {len(text)} characters (max {TEXT_MAX})")
    return problems + blocks_problems(blocks or [], MESSAGE_BLOCKS_MAX)


def view_problems(view: dict) -> list[str]:
    """A home tab or modal for views.publish / views.open / response_action=update."""
    problems: list[str] = []
    kind = view.get("type")
    if kind not in ("home", "modal"):
        problems.append(f"view type {kind!r} is neither home nor modal")
    if kind == "modal":
        problems += _plain_problems(view.get("title"), "modal title", MODAL_TITLE_MAX)
        for key in ("submit", "close"):
            if key in view:
                problems += _plain_problems(view[key], f"modal {key}", MODAL_TITLE_MAX)
        has_input = any(b.get("type") == "input" for b in view.get("blocks") or [])
        if has_input and "submit" not in view:
            problems.append("modal with input blocks needs a submit button")
    metadata = view.get("private_metadata")
    if metadata is not None and len(metadata) > PRIVATE_METADATA_MAX:
        problems.append(f"private_metadata has {len(metadata)} characters (max {PRIVATE_METADATA_MAX})")
    return problems + blocks_problems(view.get("blocks") or [], VIEW_BLOCKS_MAX)
