"""The figures training decides on: the fast headline scorer must agree with the full report."""

import numpy as np
import pytest

from model.labels import LABELS, NONE
from model.metrics import HeadlineScorer, evaluate
from model.train import choose_threshold, choose_thresholds


@pytest.mark.parametrize("seed", range(6))
def test_the_headline_scorer_gives_the_reports_macro_f1_and_friction_precision(seed):
    rng = np.random.default_rng(seed)
    y_true = list(rng.choice(LABELS, size=400, p=None))
    # Predictions that are right about half the time, some labels never predicted, `none` over-used.
    pool = [*LABELS[:9], NONE, NONE, NONE]
    y_pred = [t if rng.random() < 0.5 else str(rng.choice(pool)) for t in y_true]
    report = evaluate(y_true, y_pred)
    assert HeadlineScorer(y_true).score(y_pred) == (report["macro_f1"], report["friction_precision"])


def test_the_headline_scorer_on_predictions_that_flag_nothing():
    y_true = ["lead_quality", NONE, "pricing_dispute"]
    report = evaluate(y_true, [NONE] * 3)
    assert HeadlineScorer(y_true).score([NONE] * 3) == (report["macro_f1"], 0.0)


def test_the_abstain_bars_reach_the_precision_floor_and_beat_a_common_bar():
    """Cross-validated probabilities where one cause is over-confident: the chosen bars keep friction
    precision at the floor, and letting that cause's bar move does better than one bar for all."""
    rng = np.random.default_rng(3)
    classes = np.asarray(sorted(LABELS))
    y = rng.choice(classes, size=3000)
    proba = rng.dirichlet(np.ones(len(classes)) * 0.3, size=len(y))
    right = rng.random(len(y)) < 0.8
    proba[right, np.searchsorted(classes, y[right])] += 1.0
    loud = list(classes).index("culture_clash")
    proba[:, loud] += 0.25 * rng.random(len(y))  # over-confident on everything
    proba /= proba.sum(axis=1, keepdims=True)
    threshold, common = choose_threshold(proba, classes, y)
    bars, chosen = choose_thresholds(proba, classes, y, threshold)
    assert chosen["friction_precision"] >= 0.95
    assert chosen["macro_f1"] > common["macro_f1"]
    assert bars[loud] > threshold
