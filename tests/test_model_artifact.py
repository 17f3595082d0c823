"""Training, the artifact's sidecar, safe loading, and the model CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model.dataset import file_sha256, load_examples, training_files
from model.labels import LABELS
from model.predict import Classifier, ModelError
from model.train import train

ROOT = Path(__file__).resolve().parent.parent


def run_model_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "model", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> list[Path]:
    """30 examples of every label: enough to train quickly, with every step of the real pipeline."""
    taken: dict[str, int] = {}
    lines = []
    for example in load_examples(training_files()):
        if taken.get(example.label, 0) < 30:
            taken[example.label] = taken.get(example.label, 0) + 1
            lines.append(json.dumps({"text": example.text, "label": example.label}))
    path = tmp_path_factory.mktemp("small-data") / "small.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return [path]


@pytest.fixture(scope="module")
def small_model(small_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small") / "classifier.npz"
    train(train_paths=small_data, out=out, test_path=None, progress=lambda line: None)
    return out


def copy_model(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / src.name
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    return dst


def test_sidecar_describes_the_artifact(artifact):
    meta = json.loads(artifact.with_suffix(".json").read_text())
    assert meta["artifact_sha256"] == file_sha256(artifact)
    assert meta["labels"] == list(LABELS)
    assert len(meta["training_data_sha256"]) == 64
    for key in ("model_version", "sklearn_version", "python_version", "created_at", "threshold"):
        assert meta[key]
    test = meta["test_metrics"]
    assert set(test["per_label"]) == set(LABELS)
    assert len(test["confusion_matrix"]) == len(LABELS)
    assert 0 <= test["macro_f1"] <= 1
    assert artifact.stat().st_size < 10_000_000


def test_training_is_deterministic(small_data, small_model, tmp_path):
    again = tmp_path / "again.npz"
    train(train_paths=small_data, out=again, test_path=None, progress=lambda line: None)
    first, second = Classifier.load(small_model), Classifier.load(again)
    texts = ["the leads are junk", "discounting again?!", "lunch?", "who owns the webinar follow-up"]
    assert [d.to_json() for d in first.predict_many(texts)] == [
        d.to_json() for d in second.predict_many(texts)
    ]
    assert (
        json.loads(small_model.with_suffix(".json").read_text())["threshold"]
        == json.loads(again.with_suffix(".json").read_text())["threshold"]
    )


def test_a_tampered_artifact_is_refused(small_model, tmp_path):
    model = copy_model(small_model, tmp_path)
    with open(model, "ab") as fh:
        fh.write(b"\x00evil")
    with pytest.raises(ModelError, match="checksum"):
        Classifier.load(model)


def test_a_missing_sidecar_or_artifact_is_a_clear_error(small_model, tmp_path):
    model = copy_model(small_model, tmp_path)
    model.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="sidecar"):
        Classifier.load(model)
    with pytest.raises(ModelError, match="python -m model train"):
        Classifier.load(tmp_path / "nothing.npz")


def test_another_scikit_learn_version_is_refused(small_model, tmp_path):
    model = copy_model(small_model, tmp_path)
    sidecar = model.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    meta["sklearn_version"] = "0.24.2"
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="scikit-learn 0.24.2"):
        Classifier.load(model)


def test_a_model_without_its_thread_reader_is_refused(small_model, tmp_path):
    """Threads are read with the pointing model too; an older artifact must be retrained, not half-used."""
    model = copy_model(small_model, tmp_path)
    sidecar = model.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    assert len(meta["threads_sha256"]) == 64 and len(meta["pointing_prior"]) == 3
    del meta["pointing_layout"]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="thread reader"):
        Classifier.load(model)


def test_the_thread_reader_says_whom_a_message_blames(artifact):
    classifier = Classifier.load(artifact)
    rows = classifier.pointing(
        [
            "your reps sat on those demo requests for a week",
            "marketing's so-called hot leads were students again",
            "lunch at noon?",
        ]
    )
    assert rows.shape == (3, 2)
    assert rows[0, 0] > rows[0, 1] and rows[1, 1] > rows[1, 0]  # (fault on Sales, fault on Marketing)
    assert rows[2].sum() < 0.2


def test_predict_cli_answers_one_json_line_per_input(artifact):
    lines = [
        {"text": "<@U0TRUCEBOT> the MQLs marketing sends are garbage, nobody picks up"},
        {"text": "lunch at 12?"},
        "not json",
        {"no_text": 1},
    ]
    stdin = "\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n"
    result = run_model_cli("predict", "--model", str(artifact), stdin=stdin)
    assert result.returncode == 1  # some lines were not JSON objects with a text: the exit code says so
    assert "line 3" in result.stderr and "Traceback" not in result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["label"] == "lead_quality"
    assert out[1]["label"] == "none"
    for answer in out[:2]:
        assert 0 <= answer["confidence"] <= 1
        assert [label for label, _ in answer["ranked"]][0] in LABELS
        scores = [score for _, score in answer["ranked"]]
        assert scores == sorted(scores, reverse=True)
        assert len(answer["ranked"]) == len(LABELS)
    assert "error" in out[2] and "error" in out[3]
    # For a `none` answer, the confidence is the probability of `none` itself.
    assert out[1]["confidence"] == dict(out[1]["ranked"])["none"]


def test_clean_input_exits_zero(artifact):
    result = run_model_cli("predict", "--model", str(artifact), stdin=json.dumps({"text": "lunch?"}) + "\n")
    assert result.returncode == 0, result.stderr


def test_evaluate_cli_reports_metrics_on_any_labelled_file(artifact, tmp_path):
    labelled = tmp_path / "mine.jsonl"
    labelled.write_text(
        json.dumps({"text": "marketing's leads are junk", "label": "lead_quality"})
        + "\n"
        + json.dumps({"text": "happy friday all", "label": "none"})
        + "\n"
    )
    result = run_model_cli("evaluate", str(labelled), "--model", str(artifact), "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["n"] == 2
    assert "macro_f1" in metrics and "friction_precision" in metrics


def test_cli_errors_are_one_clear_line(tmp_path):
    result = run_model_cli("predict", "--model", str(tmp_path / "missing.npz"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "python -m model train" in result.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "angry"}\n')
    result = run_model_cli("train", "--with-feedback", str(bad), "--out", str(tmp_path / "m.npz"))
    assert result.returncode == 2 and "unknown label" in result.stderr and "Traceback" not in result.stderr


def test_the_array_artifact_gives_the_pipelines_probabilities(small_data):
    """The exported arrays (what the bot loads) reproduce the fitted scikit-learn pipeline."""
    import numpy as np

    from model.artifact import FittedArrays, export_pipeline
    from model.dataset import TEST_FILE, read_jsonl
    from model.pipeline import build_pipeline

    examples = load_examples(small_data)
    pipeline = build_pipeline().fit([e.text for e in examples], [e.label for e in examples])
    exported = FittedArrays(*export_pipeline(pipeline))
    texts = [e.text for e in read_jsonl(TEST_FILE)][:200] + [
        "",
        "   ",
        ":fire:",
        "x" * 40000,
        "日本語のテキスト",
    ]
    full = pipeline.predict_proba(texts)
    assert np.allclose(exported.proba(texts), full, atol=1e-5)
    one_by_one = np.vstack([exported.proba([t]) for t in texts[:20]])
    assert np.allclose(one_by_one, full[:20], atol=1e-5)


def test_loading_a_model_can_never_run_code(small_model, tmp_path):
    """A crafted pickle with a recomputed checksum is refused, and its payload never runs."""
    import hashlib
    import io
    import pickle

    import numpy as np

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    model = copy_model(small_model, tmp_path)
    sidecar = model.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    # 1) the whole file a pickle; 2) an .npz whose array is a pickled object
    buffer = io.BytesIO()
    np.savez(buffer, coef=np.array([Payload()], dtype=object))
    for evil in (pickle.dumps(Payload()), buffer.getvalue()):
        model.write_bytes(evil)
        meta["artifact_sha256"] = hashlib.sha256(evil).hexdigest()
        sidecar.write_text(json.dumps(meta))
        with pytest.raises(ModelError, match="cannot be read"):
            Classifier.load(model)
        assert not marker.exists()


def test_the_artifact_is_plain_arrays(artifact):
    import numpy as np

    with np.load(artifact, allow_pickle=False) as npz:
        assert {"coef", "intercept", "cal_a", "cal_b", "classes"} <= set(npz.files)
        assert all(npz[key].dtype != object for key in npz.files)


@pytest.mark.parametrize(
    ("analyzer", "ngram_range"),
    [
        ("word", (1, 2)),
        ("word", (1, 1)),
        ("word", (2, 3)),
        ("char_wb", (2, 5)),
        ("char", (1, 4)),
        ("char", (3, 5)),
    ],
)
def test_the_serving_analysers_give_scikit_learns_ngrams(analyzer, ngram_range):
    """Serving builds n-grams without importing scikit-learn (model/analyzers.py): on every training
    text, and on awkward ones, they must be exactly the n-grams TfidfVectorizer would count."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from model.analyzers import build_analyzer
    from model.text import normalize

    pattern = r"(?u)\b[\w']+\b"
    ours = build_analyzer(analyzer, ngram_range, pattern)
    theirs = TfidfVectorizer(
        analyzer=analyzer, ngram_range=ngram_range, token_pattern=pattern, lowercase=False
    ).build_analyzer()
    texts = [e.text for e in load_examples(training_files())] + [
        "",
        " ",
        "a",
        "ab",
        "\t tabs\t\tand  spaces \n\n",
        "日本語 の テキスト",
        "x" * 300,
        "don't won't rock'n'roll",
    ]
    for text in texts:
        plain = normalize(text)
        assert ours(plain) == theirs(plain), text


def test_serving_never_imports_scikit_learn_or_scipy(artifact):
    """A web or clock process loads the model as arrays: importing scikit-learn and SciPy would cost each
    process about 85 MB for nothing."""
    code = (
        "import sys, bot.server, bot.scheduler, bot.__main__\n"
        "from model.predict import Classifier\n"
        "model = Classifier.load(sys.argv[1])\n"
        "model.predict_many(['the leads are junk', 'thanks all', 'budget review at 3'])\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'joblib') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(artifact)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
