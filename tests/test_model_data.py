"""The data the classifier learns from: complete, valid, and a held-out set that really is held out."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from model.dataset import TEST_FILE, load_examples, read_jsonl, training_files
from model.labels import CAUSE_IDS, NONE
from model.playbook import load_playbook
from model.text import normalize


@pytest.fixture(scope="module")
def train_examples():
    return load_examples(training_files())


@pytest.fixture(scope="module")
def test_examples():
    return read_jsonl(TEST_FILE)


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


def test_no_held_out_message_is_a_near_duplicate_of_a_training_message(train_examples, test_examples):
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
