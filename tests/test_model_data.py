"""The data the classifier learns from: complete, valid, and a held-out set that really is held out."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from model.dataset import (
    DATA_DIR,
    REAL_VOICE_FILE,
    TEST_FILE,
    THREAD_TRAIN_FILE,
    load_examples,
    load_threads,
    read_jsonl,
    training_files,
)
from model.labels import CAUSE_IDS, NONE
from model.playbook import load_playbook
from model.text import normalize


@pytest.fixture(scope="module")
def train_examples():
    return load_examples(training_files())


@pytest.fixture(scope="module")
def test_examples():
    return read_jsonl(TEST_FILE)


@pytest.fixture(scope="module")
def real_voice():
    return read_jsonl(REAL_VOICE_FILE)


def page(source: str) -> str:
    """A page address compared loosely: scheme, `www.` and a trailing slash don't make another page."""
    return re.sub(r"^https?://(www\.)?", "", source.strip().rstrip("/")).lower()


def test_training_data_has_enough_of_every_label(train_examples):
    written = Counter(e.label for e in train_examples if e.source.startswith("written"))
    for cause in CAUSE_IDS:
        assert written[cause] >= 100, f"{cause}: only {written[cause]} written examples"
    assert written[NONE] >= 500


def test_every_seed_answer_is_restated_with_its_line(train_examples):
    seed_lines = {int(e.source.split(":")[1]) for e in train_examples if e.source.startswith("seed:")}
    assert seed_lines == {1, *range(4, 23)}


def test_held_out_set_is_large_and_covers_every_label(test_examples):
    counts = Counter(e.label for e in test_examples)
    assert len(test_examples) >= 300
    assert set(counts) == {*CAUSE_IDS, NONE}
    assert all(e.source.startswith("written:pass-b") for e in test_examples)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", normalize(text)).strip()


@pytest.mark.parametrize("held_out", ["test_examples", "real_voice"])
def test_no_held_out_message_is_a_near_duplicate_of_a_training_message(train_examples, held_out, request):
    test_examples = request.getfixturevalue(held_out)
    train_keys = {_key(e.text) for e in train_examples}
    exact = [e.text for e in test_examples if _key(e.text) in train_keys and len(_key(e.text)) > 12]
    assert not exact, f"held-out messages also in training: {exact[:5]}"

    long_test = [e for e in test_examples if len(_key(e.text)) >= 25]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), preprocessor=_key)
    matrix = vectorizer.fit_transform([e.text for e in train_examples] + [e.text for e in long_test])
    train_part, test_part = matrix[: len(train_examples)], matrix[len(train_examples) :]
    similarity = cosine_similarity(test_part, train_part).max(axis=1)
    near = [(e.text, round(float(s), 2)) for e, s in zip(long_test, similarity, strict=True) if s >= 0.85]
    assert not near, f"near-duplicates of training messages in the held-out set: {near[:5]}"


def test_the_near_duplicate_check_would_catch_a_copy(train_examples):
    original = next(e.text for e in train_examples if len(e.text) > 60)
    variant = original.replace(".", "").upper() + " !!"
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), preprocessor=_key)
    m = vectorizer.fit_transform([original, variant])
    assert cosine_similarity(m[0], m[1])[0, 0] >= 0.85


def test_playbook_covers_every_cause_with_seed_references_and_remedies():
    playbook = load_playbook()
    assert [c.id for c in playbook.causes] == list(CAUSE_IDS)
    for cause in playbook.causes:
        assert cause.title and cause.description and cause.why
        assert cause.seed_lines and all(line in {1, *range(4, 23)} for line in cause.seed_lines)
        assert 3 <= len(cause.remedies) <= 5, cause.id
        assert all(len(r.detail) > 40 for r in cause.remedies), f"{cause.id}: remedies should be concrete"
    for needs_template in ("lead_quality", "role_confusion", "pricing_dispute", "misaligned_goals"):
        assert playbook[needs_template].template is not None, needs_template
    aliases = [a for c in playbook.causes for a in c.aliases]
    assert len(aliases) == len(set(aliases)), "an alias points at two causes"


# ---- pass D: real voices, on-topic neutral text, and a second held-out set --------------------------
def test_new_data_records_the_page_each_line_was_modelled_on(train_examples):
    modelled = [e for e in train_examples if e.source.startswith(("http://", "https://"))]
    counts = Counter(e.label for e in modelled)
    assert counts[NONE] >= 600, "hard negatives: on-topic text with no friction"
    for cause in CAUSE_IDS:
        assert counts[cause] >= 60, f"{cause}: only {counts[cause]} lines in new voices"
    assert len({page(e.source) for e in modelled}) >= 200


def test_about_a_quarter_of_the_new_cause_lines_avoid_the_obvious_keywords():
    import json

    for cause in CAUSE_IDS:
        text = (DATA_DIR / "train" / f"passd_{cause}.jsonl").read_text(encoding="utf-8")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        forms = Counter(r["form"] for r in rows)
        assert sum(1 for r in rows if r.get("keywordless")) >= len(rows) // 4, cause
        assert {"story", "question", "formal", "long", "sarcasm", "understatement"} <= set(forms), cause


def test_real_voice_set_is_held_out_by_page(train_examples, real_voice):
    counts = Counter(e.label for e in real_voice)
    assert len(real_voice) >= 300 and set(counts) == {*CAUSE_IDS, NONE}
    assert all(e.source.startswith(("http://", "https://")) for e in real_voice)
    train_pages = {page(e.source) for e in train_examples if e.source.startswith("http")}
    shared = {page(e.source) for e in real_voice} & train_pages
    assert not shared, f"pages used for training and for the real-voice set: {sorted(shared)[:5]}"


def test_labelled_threads_are_well_formed_and_the_test_threads_are_held_out(train_examples, real_voice):
    train = load_threads(THREAD_TRAIN_FILE)
    dev = load_threads(DATA_DIR / "threads" / "dev.jsonl")
    test = load_threads(DATA_DIR / "threads" / "test.jsonl")
    assert len(train) >= 200 and len(dev) >= 90 and len(test) >= 100
    for record in train + dev + test:
        assert 3 <= len(record["messages"]) <= 12, record["id"]
        assert record["label"] in {*CAUSE_IDS, NONE}
    assert set(Counter(r["label"] for r in test)) == {*CAUSE_IDS, NONE}
    assert sum(r["label"] == "blame_game" for r in test) >= 8
    train_pages = {page(e.source) for e in train_examples if e.source.startswith("http")}
    train_pages |= {page(r["source"]) for r in train}
    test_pages = {page(r["source"]) for r in test}
    assert not test_pages & (train_pages | {page(r["source"]) for r in dev})
    assert not {page(e.source) for e in real_voice} & train_pages

    # Messages other than the summons of Truce itself ("@Truce thoughts?") are never shared.
    def said(records):
        return {_key(m["text"]) for r in records for m in r["messages"] if "U0TRUCEBOT" not in m["text"]}

    assert not {k for k in said(test) & said(dev) if len(k) > 25}  # short chatter ("lunch?") may recur
    assert not {k for k in said(train) & (said(dev) | said(test)) if len(k) > 25}


def test_training_threads_teach_what_an_accusation_looks_like():
    """Each message of a training thread says whom it puts the fault on; blame games point both ways."""
    train = load_threads(THREAD_TRAIN_FILE)
    points = Counter(m.get("points") or NONE for r in train for m in r["messages"])
    assert points["sales"] >= 100 and points["marketing"] >= 100 and points[NONE] >= 600
    assert all(r["source"].startswith(("http://", "https://")) for r in train)
    blame = [r for r in train if r["label"] == "blame_game"]
    assert len(blame) >= 40
    both_ways = [r for r in blame if {m.get("points") for m in r["messages"]} >= {"sales", "marketing"}]
    assert len(both_ways) >= 0.8 * len(blame)
    # Other causes carry complaints too: pointing one way, or not at all, is not a blame game.
    others = [r for r in train if r["label"] not in ("blame_game", NONE)]
    assert sum(any(m.get("points") for m in r["messages"]) for r in others) >= 30
