"""Loading a trained artifact safely and answering one message at a time."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from model.dataset import file_sha256
from model.labels import LABELS, NONE
from model.pipeline import decide

DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "classifier.joblib"


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


def _minor(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())


class _SingleMessagePath:
    """The fitted pipeline's arithmetic for one message, without scikit-learn's per-call overhead.

    Same steps, same numbers (tests compare it with `Pipeline.predict_proba` on the whole held-out
    set): normalise -> per-vectoriser term counts, sublinear tf, idf, L2 norm -> linear scores ->
    per-class sigmoid calibration -> normalised probabilities.
    """

    def __init__(self, pipeline):
        self.normalize = pipeline.named_steps["normalize"].func
        self.parts = []
        offset = 0
        for _, vec in pipeline.named_steps["features"].transformer_list:
            if not (vec.sublinear_tf and vec.norm == "l2" and vec.use_idf and not vec.binary):
                raise ValueError("unsupported vectoriser settings")
            self.parts.append((vec.build_analyzer(), vec.vocabulary_, vec.idf_, offset))
            offset += len(vec.vocabulary_)
        calibrated = pipeline.named_steps["classify"].estimator_
        (inner,) = calibrated.calibrated_classifiers_
        if inner.method != "sigmoid":
            raise ValueError("unsupported calibration")
        svm = inner.estimator
        self.coef_t = np.ascontiguousarray(svm.coef_.T)  # (features, classes)
        self.intercept = svm.intercept_.copy()
        self.a = np.array([c.a_ for c in inner.calibrators], dtype=float)
        self.b = np.array([c.b_ for c in inner.calibrators], dtype=float)
        if list(svm.classes_) != list(calibrated.classes_) or offset != self.coef_t.shape[0]:
            raise ValueError("unexpected model layout")

    def proba(self, text: str) -> np.ndarray:
        text = self.normalize([text])[0]
        scores = self.intercept.copy()
        for analyzer, vocabulary, idf, offset in self.parts:
            counts: dict[int, int] = {}
            for term in analyzer(text):
                j = vocabulary.get(term)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            values = (np.log(np.fromiter(counts.values(), dtype=float, count=len(counts))) + 1.0) * idf[idx]
            values /= np.sqrt(values @ values)
            scores += values @ self.coef_t[idx + offset]
        proba = 1.0 / (1.0 + np.exp(self.a * scores + self.b))
        total = proba.sum()
        return proba / total if total else np.full_like(proba, 1 / len(proba))


class Classifier:
    """A verified, loaded model. Build with `Classifier.load(path)`; never loads at import."""

    def __init__(self, pipeline, meta: dict):
        self._pipeline = pipeline
        self.meta = meta
        self.threshold = float(meta.get("threshold", pipeline.named_steps["classify"].threshold))
        self.classes = np.asarray(pipeline.named_steps["classify"].classes_)
        try:
            self._fast: _SingleMessagePath | None = _SingleMessagePath(pipeline)
        except (AttributeError, KeyError, ValueError, TypeError):
            self._fast = None

    def _word_names(self, words):
        if getattr(self, "_names", None) is None:
            self._names = words.get_feature_names_out()
        return self._names

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
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"model sidecar {sidecar} is unreadable ({exc}): retrain the model") from None
        # The artifact is a pickle, which can run code: check it is the file we wrote before loading it.
        if file_sha256(artifact) != meta.get("artifact_sha256"):
            raise ModelError(
                f"model artifact {artifact} does not match its sidecar checksum: refusing to load it"
            )
        trained_with = str(meta.get("sklearn_version", "?"))
        if _minor(trained_with) != _minor(sklearn.__version__):
            raise ModelError(
                f"model was trained with scikit-learn {trained_with} but {sklearn.__version__} is installed: "
                "retrain with `python -m model train`"
            )
        if trained_with != sklearn.__version__:
            warnings.warn(
                f"model trained with scikit-learn {trained_with}, running {sklearn.__version__}", stacklevel=2
            )
        if tuple(meta.get("labels", ())) != LABELS:
            raise ModelError("model label set differs from this version of Truce: retrain the model")
        pipeline = joblib.load(artifact)
        return cls(pipeline, meta)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        texts = [t if isinstance(t, str) else "" for t in texts]
        if self._fast is not None and len(texts) < 8:
            return np.vstack([self._fast.proba(t) for t in texts])
        return self._pipeline.predict_proba(texts)

    def predict_many(self, texts: list[str]) -> list[Diagnosis]:
        proba = self.predict_proba(texts)
        labels = decide(proba, self.classes, self.threshold)
        out = []
        for row, label in zip(proba, labels, strict=True):
            order = np.argsort(-row, kind="stable")
            ranked = tuple((str(self.classes[i]), float(row[i])) for i in order)
            scores = dict(ranked)
            if label == NONE:
                best_cause = max(p for lab, p in ranked if lab != NONE)
                confidence = max(scores.get(NONE, 0.0), 1.0 - best_cause)
            else:
                confidence = scores[label]
            out.append(Diagnosis(str(label), float(confidence), ranked))
        return out

    def predict(self, text: str) -> Diagnosis:
        return self.predict_many([text])[0]

    def explain(self, text: str, label: str, k: int = 3) -> list[str]:
        """The words in `text` that pushed the linear model most towards `label` (best first)."""
        try:
            words = self._pipeline.named_steps["features"].transformer_list[0][1]
            svm = self._pipeline.named_steps["classify"].estimator_.calibrated_classifiers_[0].estimator
            row = list(svm.classes_).index(label)
        except (AttributeError, IndexError, KeyError, ValueError):
            return []
        x = words.transform(self._pipeline.named_steps["normalize"].transform([text])).tocoo()
        weights = svm.coef_[row]
        names = self._word_names(words)
        scored = sorted(
            ((float(v * weights[j]), names[j]) for j, v in zip(x.col, x.data, strict=True)),
            reverse=True,
        )
        terms: list[str] = []
        seen_words: set[str] = set()
        for score, term in scored:
            if score <= 0 or len(terms) == k:
                break
            words = {w for w in term.split() if w not in ENGLISH_STOP_WORDS}
            if not words or words & seen_words or term in ("link", "channel", "codeblock"):
                continue  # stop words explain nothing; overlapping n-grams say the same thing twice
            terms.append(term)
            seen_words |= words
        return [t.replace("emoji_", ":") + ":" if t.startswith("emoji_") else t for t in terms]
