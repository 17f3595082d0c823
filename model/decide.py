"""The abstain rule: answer a cause only when it is likely enough, else `none`.

Shared by training (which chooses the bars) and prediction; NumPy only, so serving never imports
scikit-learn."""

from __future__ import annotations

import numpy as np

from model.labels import NONE


def decide(proba: np.ndarray, classes: np.ndarray, threshold, none_label: str = NONE) -> np.ndarray:
    """The abstain rule, shared by training (to choose the threshold) and prediction.

    `threshold` is one number, or one per class (aligned with `classes`): how likely a cause must be."""
    classes = np.asarray(classes)
    cause_mask = classes != none_label
    cause_proba = np.where(cause_mask, proba, -1.0)
    best = cause_proba.argmax(axis=1)
    best_p = cause_proba[np.arange(len(best)), best]
    none_p = proba[:, ~cause_mask].max(axis=1) if (~cause_mask).any() else np.zeros(len(best))
    bar = np.broadcast_to(np.asarray(threshold, dtype=float), (len(classes),))[best]
    keep = (best_p >= bar) & (best_p >= none_p)
    return np.where(keep, classes[best], none_label)
