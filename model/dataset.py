"""Reading labelled examples (JSON lines) and fingerprinting them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from model.labels import LABELS

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAIN_DIR = DATA_DIR / "train"
TEST_FILE = DATA_DIR / "test" / "heldout.jsonl"
# The second held-out set: lines in the voices of published posts, modelled on pages no training line used.
REAL_VOICE_FILE = DATA_DIR / "test" / "realvoice.jsonl"
PLAYBOOK_FILE = DATA_DIR / "playbook.json"


class DataError(ValueError):
    """A labelled file that cannot be used, with the file and line named."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str = ""


def read_jsonl(path: Path) -> list[Example]:
    examples = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise DataError(f'{path}:{number}: each line needs a "text" string')
            label = record.get("label")
            if label not in LABELS:
                raise DataError(
                    f"{path}:{number}: unknown label {label!r}; expected one of {', '.join(LABELS)}"
                )
            examples.append(Example(record["text"], label, str(record.get("source", ""))))
    return examples


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
