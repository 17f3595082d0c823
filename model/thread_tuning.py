"""Choosing the thread reading's settings (`model.thread.Rules`) without touching the test threads.

`python -m model tune-threads` scores every training thread with the trained message classifier (which
never saw a thread) and with a pointing model fitted on the *other* folds of the training threads, then
tries each setting on those out-of-fold readings. The best by training accuracy is printed next to its
accuracy on the dev threads, which only confirm it. The test threads are never read here.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold

from model.thread import Rules, diagnose_thread, joined, thread_messages

GRID = {
    "message_share": (0.6, 0.7),
    "friction_floor": (0.2, 0.25, 0.3),
    "point_floor": (0.0, 0.2, 0.3, 0.4, 0.5),
    "accuser_floor": (0.3, 0.4, 0.5),
    "both_ways": (0.4, 0.6, 0.8, 1.0, 1.3),
    "balance": (0.0, 0.3, 0.5),
}


@dataclass
class _Read:
    label: str
    messages: list
    proba: np.ndarray
    whole: np.ndarray
    pointing: np.ndarray
    classes: Sequence[str]


def _read(classifier, records: Sequence[dict], pointing: list[np.ndarray]) -> list[_Read]:
    out = []
    for record, points in zip(records, pointing, strict=True):
        messages = thread_messages(record)
        proba = classifier.predict_proba([m.text for m in messages] + [joined(messages)])
        out.append(_Read(record["label"], messages, proba[:-1], proba[-1], points, classifier.classes))
    return out


def _pointing_of(fitted, records: Sequence[dict]) -> list[np.ndarray]:
    from model.predict import rescale

    pipeline, _, prior = fitted
    classes = list(pipeline.classes_)
    out = []
    for record in records:
        texts = [m.text for m in thread_messages(record)]
        proba = rescale(pipeline.predict_proba(texts), prior) if texts else np.zeros((0, len(classes)))
        out.append(proba[:, [classes.index("sales"), classes.index("marketing")]])
    return out


def out_of_fold_pointing(
    records: Sequence[dict], lines: Sequence[tuple[str, str]], folds: int = 5, seed: int = 0
) -> list[np.ndarray]:
    """Each training thread's pointing, from a model that never saw that thread (the single lines
    written for direction are in every fold's training)."""
    from model.train import fit_pointing

    result: list[np.ndarray | None] = [None] * len(records)
    for fit_idx, held_idx in KFold(folds, shuffle=True, random_state=seed).split(records):
        fitted = fit_pointing([records[i] for i in fit_idx], lines)
        for i, points in zip(held_idx, _pointing_of(fitted, [records[i] for i in held_idx]), strict=True):
            result[i] = points
    return result  # type: ignore[return-value]


def accuracy(reads: Sequence[_Read], rules: Rules) -> float:
    """Label-balanced accuracy: every label weighs the same, however many threads it has (the training
    threads hold many blame games on purpose; conversations in the wild do not)."""
    counts = Counter(r.label for r in reads)
    hits = sum(
        (diagnose_thread(r.proba, r.classes, r.messages, r.whole, r.pointing, rules).label == r.label)
        / counts[r.label]
        for r in reads
    )
    return hits / max(len(counts), 1)


def tune(
    classifier, train_records: Sequence[dict], lines: Sequence[tuple[str, str]], dev_records: Sequence[dict]
) -> list[tuple]:
    from model.train import fit_pointing

    train_reads = _read(classifier, train_records, out_of_fold_pointing(train_records, lines))
    fitted = fit_pointing(train_records, lines)
    dev_reads = _read(classifier, dev_records, _pointing_of(fitted, dev_records))
    rows = []
    for values in itertools.product(*GRID.values()):
        rules = Rules(**dict(zip(GRID, values, strict=True)))
        rows.append((accuracy(train_reads, rules), accuracy(dev_reads, rules), rules))
    rows.sort(key=lambda row: -row[0])
    return rows
