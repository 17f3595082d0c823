"""Reading labelled examples (JSON lines) and fingerprinting them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from model.labels import LABELS, NONE, POINTS

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAIN_DIR = DATA_DIR / "train"
TEST_FILE = DATA_DIR / "test" / "heldout.jsonl"
# The second held-out set: lines in the voices of published posts, modelled on pages no training line used.
REAL_VOICE_FILE = DATA_DIR / "test" / "realvoice.jsonl"
PLAYBOOK_FILE = DATA_DIR / "playbook.json"
THREADS_DIR = DATA_DIR / "threads"
# Conversations to learn from: each message says whom it puts the fault on (`points`), which teaches
# the thread reader what an accusation looks like. The dev and test threads are never trained on.
THREAD_TRAIN_FILE = THREADS_DIR / "train.jsonl"
# Single thread messages written to teach the direction of an accusation (near-misses included).
POINTS_FILE = THREADS_DIR / "points.jsonl"


class DataError(ValueError):
    """A labelled file that cannot be used, with the file and line named."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str = ""


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    """Each non-blank line of a JSON-lines file as (line number, object); anything else is a DataError."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: each line must be a JSON object")
            yield number, record


def read_jsonl(path: Path) -> list[Example]:
    examples = []
    for number, record in _records(path):
        if not isinstance(record.get("text"), str):
            raise DataError(f'{path}:{number}: each line needs a "text" string')
        label = record.get("label")
        if label not in LABELS:
            raise DataError(f"{path}:{number}: unknown label {label!r}; expected one of {', '.join(LABELS)}")
        examples.append(Example(record["text"], label, str(record.get("source", ""))))
    return examples


def load_threads(path: Path) -> list[dict]:
    """Labelled conversations: one JSON object per line with a "messages" list."""
    records = []
    for number, record in _records(path):
        if not isinstance(record.get("messages"), list):
            raise DataError(f'{path}:{number}: each line needs a "messages" list')
        if record.get("label") not in LABELS:
            raise DataError(f"{path}:{number}: unknown label {record.get('label')!r}")
        for m in record["messages"]:
            if not isinstance(m, dict) or not isinstance(m.get("text"), str):
                raise DataError(f'{path}:{number}: each message needs a "text" string')
            if (m.get("points") or NONE) not in POINTS:
                raise DataError(f"{path}:{number}: `points` must be sales, marketing or null")
        records.append(record)
    return records


def load_points(path: Path) -> list[tuple[str, str]]:
    """(text, whom it puts the fault on) lines: {"text": ..., "points": "sales" | "marketing" | null}."""
    lines = []
    for number, record in _records(path):
        points = record.get("points") or NONE
        if not isinstance(record.get("text"), str) or points not in POINTS:
            raise DataError(f'{path}:{number}: needs a "text" and "points" of sales, marketing or null')
        lines.append((record["text"], points))
    return lines


def threads_fingerprint(records: Iterable[dict]) -> str:
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def training_files(train_dir: Path = TRAIN_DIR) -> list[Path]:
    return sorted(train_dir.glob("*.jsonl"))


def load_examples(paths: Iterable[Path]) -> list[Example]:
    examples: list[Example] = []
    for path in paths:
        examples.extend(read_jsonl(path))
    return examples


def fingerprint(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps([example.text, example.label], ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
