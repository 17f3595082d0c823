"""Users' corrections as training data: `python -m bot feedback export --out FILE`.

Each line is one labelled example that `python -m model train --with-feedback FILE` reads
(model.dataset.read_jsonl): {"text", "label", "source", "predicted", "model_version", "created_at"}.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import tempfile
from datetime import UTC
from pathlib import Path
from typing import TextIO

from bot.storage.repository import Repository
from model.labels import LABELS


def helpful_key(secret: str, reply: str, user_id: str) -> str:
    """Who said which reply was helpful, as a keyed hash: enough to count each person once per
    reply, useless without the secret (TRUCE_PULSE_KEY)."""
    return hmac.new(secret.encode(), f"helpful:{reply}:{user_id}".encode(), hashlib.sha256).hexdigest()


def may_keep_text(asker: str, saver: str) -> bool:
    """A correction keeps the message's text only when the person saving it is the one who asked
    Truce about it: nobody can store someone else's words."""
    return bool(asker) and asker == saver


class WhichWorkspace(ValueError):
    """Corrections from several workspaces and none named: str() is one line for the operator."""


def pick_team(repo: Repository, team: str | None) -> str:
    """The workspace whose corrections to export: the one named, or the only one there is. Each
    workspace trains its own model from its own people's corrections, so exports never mix them."""
    teams = repo.correction_teams()
    if team is not None:
        return team
    if len(teams) > 1:
        raise WhichWorkspace(
            f"corrections from {len(teams)} workspaces ({', '.join(t or '(none)' for t in teams)}): "
            "name one with --team"
        )
    return teams[0] if teams else ""


def correction_records(repo: Repository, team: str | None = None) -> list[dict]:
    """One workspace's corrections (the only one's when `team` is None) as training records."""
    records = []
    for row in repo.corrections(pick_team(repo, team)):
        if row.label not in LABELS or not row.text.strip():
            continue  # a label the model no longer knows cannot be trained on
        created = row.created_at
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        records.append(
            {
                "text": row.text,
                "label": row.label,
                "source": f"feedback:{row.surface or 'unknown'}",
                "predicted": row.predicted,
                "model_version": row.model_version,
                "created_at": created.isoformat(timespec="seconds") if created else None,
            }
        )
    return records


def _write(records: list[dict], fh: TextIO) -> None:
    for record in records:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def export_corrections(repo: Repository, out: str | Path, team: str | None = None) -> int:
    """Write one workspace's corrections as JSON lines to `out` ("-" for stdout). Returns how many."""
    records = correction_records(repo, team)
    if str(out) == "-":
        _write(records, sys.stdout)
        sys.stdout.flush()
        return len(records)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            _write(records, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(records)
