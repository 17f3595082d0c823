"""Loading a trained artifact safely and answering one message at a time."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.artifact import ArtifactFormatError, FittedArrays, read_arrays
from model.decide import decide
from model.labels import LABELS, NONE, POINTS
from model.text import normalize

DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "classifier.npz"


class ModelError(RuntimeError):
    """The artifact cannot be used; the message says why and what to do."""


def sidecar_path(artifact: Path) -> Path:
    return artifact.with_suffix(".json")


@dataclass(frozen=True)
class Diagnosis:
    label: str
    confidence: float
    ranked: tuple[tuple[str, float], ...]

    @property
    def is_friction(self) -> bool:
        return self.label != NONE

    def runner_up(self) -> tuple[str, float] | None:
        causes = [(label, p) for label, p in self.ranked if label not in (NONE, self.label)]
        return causes[0] if causes else None

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "ranked": [[label, round(p, 4)] for label, p in self.ranked],
        }


def rescale(proba: np.ndarray, prior) -> np.ndarray:
    """Probabilities moved to another class mix: each column times its ratio, rows renormalised."""
    scaled = np.asarray(proba, dtype=float) * np.asarray(prior, dtype=float)
    return scaled / np.maximum(scaled.sum(axis=1, keepdims=True), 1e-12)


def _minor(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())


class Classifier:
    """A loaded model. Build with `Classifier.load(path)`; never loads at import.

    The artifact is plain arrays (see model/artifact.py): loading it cannot run code, whoever wrote it.
    """

    def __init__(self, arrays: FittedArrays, meta: dict, pointer: FittedArrays | None = None):
        self._arrays = arrays
        self._pointer = pointer  # the thread reader's: does a message put the fault on a side?
        self.meta = meta
        self.threshold = float(meta.get("threshold", 0.35))
        self.classes = np.asarray(arrays.classes)
        # The abstain bar per cause (the common one where a sidecar names none).
        per_cause = meta.get("thresholds") or {}
        self.thresholds = np.array([float(per_cause.get(str(c), self.threshold)) for c in self.classes])

    @property
    def version(self) -> str:
        return str(self.meta.get("model_version", "unknown"))

    @classmethod
    def load(cls, path: str | Path = DEFAULT_ARTIFACT) -> Classifier:
        artifact = Path(path)
        sidecar = sidecar_path(artifact)
        if not artifact.is_file():
            raise ModelError(f"model artifact not found at {artifact}: run `python -m model train` first")
        if not sidecar.is_file():
            raise ModelError(f"model sidecar {sidecar.name} is missing next to {artifact}: retrain the model")
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            data = artifact.read_bytes()
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(f"model sidecar {sidecar} is unreadable ({exc}): retrain the model") from None
        if not isinstance(meta, dict):
            raise ModelError(f"model sidecar {sidecar} is not a JSON object: retrain the model")
        # Integrity, not safety: the format itself cannot run code (see model/artifact.py).
        if hashlib.sha256(data).hexdigest() != meta.get("artifact_sha256"):
            raise ModelError(
                f"model artifact {artifact} does not match its sidecar checksum: retrain the model"
            )
        trained_with = str(meta.get("sklearn_version", "?"))
        # The installed version, read without importing scikit-learn (serving never needs it).
        installed = importlib.metadata.version("scikit-learn")
        if _minor(trained_with) != _minor(installed):
            raise ModelError(
                f"model was trained with scikit-learn {trained_with} but {installed} is installed: "
                "retrain with `python -m model train`"
            )
        if trained_with != installed:
            warnings.warn(
                f"model trained with scikit-learn {trained_with}, running {installed}", stacklevel=2
            )
        if tuple(meta.get("labels", ())) != LABELS:
            raise ModelError("model label set differs from this version of Truce: retrain the model")
        if not isinstance(meta.get("pointing_layout"), dict):
            raise ModelError(f"model artifact {artifact} has no thread reader: retrain the model")
        try:
            stored = read_arrays(data)
            arrays = FittedArrays.from_arrays(stored, meta.get("layout") or {})
            pointer = FittedArrays.from_arrays(stored, meta["pointing_layout"])
        except ArtifactFormatError as exc:
            raise ModelError(f"model artifact {artifact} cannot be read ({exc}): retrain the model") from None
        if sorted(pointer.classes) != sorted(POINTS):
            raise ModelError(f"model artifact {artifact} has an unknown thread reader: retrain the model")
        return cls(arrays, meta, pointer)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        texts = [t if isinstance(t, str) else "" for t in texts]
        return self._arrays.proba(texts)

    def pointing(self, texts: list[str]) -> np.ndarray:
        """Per text: (P(it puts the fault on Sales), P(it puts the fault on Marketing))."""
        if self._pointer is None or not texts:
            return np.zeros((len(texts), 2))
        proba = self._pointer.proba([t if isinstance(t, str) else "" for t in texts])
        proba = rescale(proba, self.meta.get("pointing_prior") or np.ones(proba.shape[1]))
        order = list(self._pointer.classes)
        return proba[:, [order.index("sales"), order.index("marketing")]]

    def predict_many(self, texts: list[str]) -> list[Diagnosis]:
        proba = self.predict_proba(texts)
        labels = decide(proba, self.classes, self.thresholds)
        out = []
        for row, label in zip(proba, labels, strict=True):
            order = np.argsort(-row, kind="stable")
            ranked = tuple((str(self.classes[i]), float(row[i])) for i in order)
            scores = dict(ranked)
            confidence = scores[label]
            out.append(Diagnosis(str(label), float(confidence), ranked))
        return out

    def predict(self, text: str) -> Diagnosis:
        return self.predict_many([text])[0]

    def explain(self, text: str, label: str, cues: tuple[str, ...] | list[str], k: int = 3) -> list[str]:
        """Evidence a person can read: the cause's own words and phrases found in `text`.

        Only cues (from the playbook) that occur as whole words count, best first by how much the
        linear model weighs them towards `label`; a cue the model weighs against `label` is left out.
        Fragments such as "the mktg" or "think" are never evidence: when no cue is present, nothing is.
        """
        plain = " " + normalize(text) + " "
        present = [c for c in dict.fromkeys(cues) if re.search(rf"(?<![\w']){re.escape(c)}(?![\w'])", plain)]
        if not present:
            return []
        weights = self._term_weights(label)
        scored = []
        for cue in present:
            w = weights.get(cue)
            if w is None:
                parts = [weights.get(word, 0.0) for word in cue.split()]
                w = sum(parts) / len(parts)
            if w >= 0:
                scored.append((w, len(cue), cue))
        chosen: list[str] = []
        for _, _, cue in sorted(scored, reverse=True):
            if any(cue in c or c in cue for c in chosen):
                continue
            chosen.append(cue)
            if len(chosen) == k:
                break
        return chosen

    def _term_weights(self, label: str) -> dict[str, float]:
        """The word-feature weights of the linear model for `label` (cached per label)."""
        cache = self.__dict__.setdefault("_weights", {})
        if label not in cache:
            try:
                cache[label] = self._arrays.term_weights(label)
            except (IndexError, KeyError, ValueError):
                cache[label] = {}
        return cache[label]
