"""The playbook: for each cause, what it is, where it comes from and what to do about it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from model.dataset import PLAYBOOK_FILE
from model.labels import CAUSE_IDS


@dataclass(frozen=True)
class Remedy:
    title: str
    detail: str


@dataclass(frozen=True)
class Template:
    title: str
    text: str


@dataclass(frozen=True)
class Cause:
    id: str
    title: str
    emoji: str
    description: str
    why: str
    seed_lines: tuple[int, ...]
    seed_summary: str
    sounds_like: tuple[str, ...]
    aliases: tuple[str, ...]
    remedies: tuple[Remedy, ...]
    template: Template | None
    cues: tuple[str, ...] = ()  # words and phrases that are about this cause (evidence shown to people)


class Playbook:
    def __init__(self, causes: list[Cause]):
        self._by_id = {cause.id: cause for cause in causes}
        self.causes: tuple[Cause, ...] = tuple(self._by_id[i] for i in CAUSE_IDS if i in self._by_id)

    def get(self, cause_id: str) -> Cause | None:
        return self._by_id.get(cause_id)

    def __getitem__(self, cause_id: str) -> Cause:
        return self._by_id[cause_id]

    def __len__(self) -> int:
        return len(self.causes)


def _cause(raw: dict) -> Cause:
    template = raw.get("template")
    return Cause(
        id=raw["id"],
        title=raw["title"],
        emoji=raw.get("emoji") or ":handshake:",
        description=raw["description"],
        why=raw.get("why", ""),
        seed_lines=tuple(raw.get("seed_lines", ())),
        seed_summary=raw.get("seed_summary", ""),
        sounds_like=tuple(raw.get("sounds_like", ())),
        aliases=tuple(a.lower() for a in raw.get("aliases", ())),
        remedies=tuple(Remedy(r["title"], r["detail"]) for r in raw["remedies"]),
        template=Template(template["title"], template["text"]) if template else None,
        cues=tuple(c.lower() for c in raw.get("cues", ())),
    )


def load_playbook(path: str | Path = PLAYBOOK_FILE) -> Playbook:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    causes = [_cause(c) for c in raw["causes"]]
    unknown = [c.id for c in causes if c.id not in CAUSE_IDS]
    missing = [i for i in CAUSE_IDS if i not in {c.id for c in causes}]
    if unknown or missing:
        raise ValueError(f"playbook {path}: unknown causes {unknown}, missing causes {missing}")
    return Playbook(causes)
