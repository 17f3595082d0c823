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
    assert metrics["macro_f1"] >= 0.85, metrics["macro_f1"]
    assert metrics["friction_precision"] >= 0.94, metrics["friction_precision"]


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


def test_real_voice_scores_stay_above_the_floor(classifier):
    """The second held-out set (lines in the voices of published posts, from pages no training line used)."""
    from model.dataset import REAL_VOICE_FILE

    examples = read_jsonl(REAL_VOICE_FILE)
    diagnoses = classifier.predict_many([e.text for e in examples])
    metrics = evaluate(
        [e.label for e in examples],
        [d.label for d in diagnoses],
        ranked=[[lab for lab, _ in d.ranked] for d in diagnoses],
    )
    assert metrics["macro_f1"] >= 0.74, metrics["macro_f1"]
    assert metrics["friction_precision"] >= 0.89, metrics["friction_precision"]
    assert metrics["right_cause_top2"] >= 0.88, metrics["right_cause_top2"]


def test_threads_are_diagnosed_by_their_dominant_cause(classifier):
    """Labelled threads mixing the cause with chatter; the test threads were never tuned on."""
    from model.dataset import DATA_DIR, load_threads
    from model.thread import evaluate_threads

    dev = evaluate_threads(classifier, load_threads(DATA_DIR / "threads" / "dev.jsonl"))
    test = evaluate_threads(classifier, load_threads(DATA_DIR / "threads" / "test.jsonl"))
    assert dev["accuracy"] >= 0.85, dev["accuracy"]
    assert test["accuracy"] >= 0.83, test["accuracy"]
    assert test["top2_accuracy"] >= 0.90, test["top2_accuracy"]
    assert test["friction_precision"] >= 0.90, test["friction_precision"]
