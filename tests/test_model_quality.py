"""A regression guard on the project's held-out set (written separately; never used for tuning).

The floors sit below the measured figures so that only a real regression trips them.
"""

from model.dataset import TEST_FILE, read_jsonl
from model.labels import NONE
from model.metrics import evaluate


def test_held_out_scores_stay_above_the_floor(classifier):
    examples = read_jsonl(TEST_FILE)
    predicted = [d.label for d in classifier.predict_many([e.text for e in examples])]
    metrics = evaluate([e.label for e in examples], predicted)
    assert metrics["macro_f1"] >= 0.78, metrics["macro_f1"]
    assert metrics["friction_precision"] >= 0.90, metrics["friction_precision"]


def test_ordinary_chatter_is_left_alone(classifier):
    chatter = [
        "thanks marketing for the leads this week :tada:",
        "budget review moved to thursday",
        "pricing page is live, nice work all",
        "lunch?",
        ":wave:",
        "",
    ]
    assert [d.label for d in classifier.predict_many(chatter)] == [NONE] * len(chatter)


def test_diagnosis_is_well_formed(classifier):
    d = classifier.predict("<@U0TRUCEBOT> our AEs discount 40% and then blame mktg for the price")
    assert d.label in dict(d.ranked)
    assert abs(sum(p for _, p in d.ranked) - 1) < 1e-6
    assert 0 <= d.confidence <= 1
