"""The figures Truce reports for any labelled set: per-label P/R/F1, macro-F1, friction precision."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from model.labels import LABELS, NONE


def top_k_accuracy(y_true: Sequence[str], ranked: Sequence[Sequence[str]], k: int = 2) -> float:
    """How often the right label is among the first k of each ranking (friction examples only)."""
    pairs = [(t, r) for t, r in zip(y_true, ranked, strict=True) if t != NONE]
    if not pairs:
        return 0.0
    return round(sum(t in list(r)[:k] for t, r in pairs) / len(pairs), 4)


def confused_pairs(metrics: dict, n: int = 8) -> list[tuple[str, str, int]]:
    """The most frequent (true, predicted) mistakes, most frequent first."""
    labels = metrics["labels"]
    pairs = [
        (labels[i], labels[j], count)
        for i, row in enumerate(metrics["confusion_matrix"])
        for j, count in enumerate(row)
        if i != j and count
    ]
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))[:n]


def evaluate(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str] = LABELS,
    ranked: Sequence[Sequence[str]] | None = None,
) -> dict:
    labels = list(labels)
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    friction_true = [y != NONE for y in y_true]
    friction_pred = [y != NONE for y in y_pred]
    tp = sum(t and q for t, q in zip(friction_true, friction_pred, strict=True))
    flagged = sum(friction_pred)
    actual = sum(friction_true)
    return {
        "n": len(y_true),
        "accuracy": round(sum(a == b for a, b in zip(y_true, y_pred, strict=True)) / max(len(y_true), 1), 4),
        "macro_f1": round(
            float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)), 4
        ),
        "friction_precision": round(tp / flagged, 4) if flagged else 0.0,
        "friction_recall": round(tp / actual, 4) if actual else 0.0,
        "per_label": {
            label: {
                "precision": round(float(p[i]), 4),
                "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "labels": labels,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        **(_ranked_figures(y_true, y_pred, ranked) if ranked is not None else {}),
    }


class HeadlineScorer:
    """Macro-F1 and friction precision of many candidate predictions for one labelled set, as `evaluate`
    rounds them, from NumPy counts: choosing the abstain bars scores hundreds of candidates, and a full
    report for each took most of the training time."""

    def __init__(self, y_true: Sequence[str], labels: Sequence[str] = LABELS):
        self.labels = np.asarray(list(labels))
        self._index = {label: i for i, label in enumerate(self.labels)}
        self._none = self._index[NONE]
        self._true = self.codes(y_true)

    def codes(self, y: Sequence[str]) -> np.ndarray:
        return np.fromiter((self._index[v] for v in y), dtype=np.int64, count=len(y))

    def score(self, y_pred: Sequence[str]) -> tuple[float, float]:
        """(macro_f1, friction_precision), equal to `evaluate(y_true, y_pred)`'s."""
        pred = self.codes(y_pred)
        n = len(self.labels)
        tp = np.bincount(self._true[self._true == pred], minlength=n).astype(float)
        fp = np.bincount(pred, minlength=n) - tp
        fn = np.bincount(self._true, minlength=n) - tp
        denominator = 2 * tp + fp + fn
        f1 = np.divide(2 * tp, denominator, out=np.zeros(n), where=denominator > 0)
        flagged = pred != self._none
        friction_tp = int((flagged & (self._true != self._none)).sum())
        precision = round(friction_tp / int(flagged.sum()), 4) if flagged.any() else 0.0
        return round(float(f1.mean()), 4), precision


def _ranked_figures(y_true, y_pred, ranked) -> dict:
    causes_only = [[label for label in r if label != NONE] for r in ranked]
    friction = [(t, p) for t, p in zip(y_true, y_pred, strict=True) if t != NONE]
    return {
        "right_cause_first": round(
            sum(t == c[0] for t, c in zip(y_true, causes_only, strict=True) if t != NONE)
            / max(len(friction), 1),
            4,
        ),
        "right_cause_top2": top_k_accuracy(y_true, causes_only, 2),
    }


def format_report(metrics: dict) -> str:
    labels = metrics["labels"]
    lines = [f"{'label':<24}{'precision':>10}{'recall':>8}{'f1':>7}{'n':>6}"]
    for label in labels:
        row = metrics["per_label"][label]
        lines.append(
            f"{label:<24}{row['precision']:>10.2f}{row['recall']:>8.2f}{row['f1']:>7.2f}{row['support']:>6}"
        )
    lines.append(
        f"macro-F1 {metrics['macro_f1']:.3f} · accuracy {metrics['accuracy']:.3f} · "
        f"friction precision {metrics['friction_precision']:.3f} · friction recall {metrics['friction_recall']:.3f}"
        f" · n={metrics['n']}"
    )
    if "right_cause_top2" in metrics:
        lines.append(
            f"friction examples: right cause first {metrics['right_cause_first']:.3f} · "
            f"right cause in top 2 {metrics['right_cause_top2']:.3f}"
        )
    mistakes = confused_pairs(metrics)
    if mistakes:
        lines.append(
            "most confused (true -> predicted: count): "
            + "; ".join(f"{t} -> {p}: {c}" for t, p, c in mistakes)
        )
    short = [label[:5] for label in labels]
    lines.append("confusion matrix (rows = true, columns = predicted):")
    lines.append(" " * 24 + "".join(f"{s:>6}" for s in short))
    for label, row in zip(labels, metrics["confusion_matrix"], strict=True):
        lines.append(f"{label:<24}" + "".join(f"{v:>6}" for v in row))
    return "\n".join(lines)
