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
    out = tmp_path_factory.mktemp("small") / "classifier.joblib"
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
    again = tmp_path / "again.joblib"
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


def test_a_tampered_artifact_is_refused_before_unpickling(small_model, tmp_path):
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
        Classifier.load(tmp_path / "nothing.joblib")


def test_another_scikit_learn_version_is_refused(small_model, tmp_path):
    model = copy_model(small_model, tmp_path)
    sidecar = model.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    meta["sklearn_version"] = "0.24.2"
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="scikit-learn 0.24.2"):
        Classifier.load(model)


def test_predict_cli_answers_one_json_line_per_input(artifact):
    lines = [
        {"text": "<@U0TRUCEBOT> the MQLs marketing sends are garbage, nobody picks up"},
        {"text": "lunch at 12?"},
        "not json",
        {"no_text": 1},
    ]
    stdin = "\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n"
    result = run_model_cli("predict", "--model", str(artifact), stdin=stdin)
    assert result.returncode == 0, result.stderr
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
    result = run_model_cli("predict", "--model", str(tmp_path / "missing.joblib"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "python -m model train" in result.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "angry"}\n')
    result = run_model_cli("train", "--with-feedback", str(bad), "--out", str(tmp_path / "m.joblib"))
    assert result.returncode == 2 and "unknown label" in result.stderr and "Traceback" not in result.stderr


def test_single_message_path_gives_the_pipelines_exact_probabilities(classifier):
    import numpy as np

    from model.dataset import TEST_FILE, read_jsonl

    texts = [e.text for e in read_jsonl(TEST_FILE)] + ["", "   ", ":fire:", "x" * 40000, "日本語のテキスト"]
    assert classifier._fast is not None
    fast = classifier.predict_proba(texts[:1])
    full = classifier._pipeline.predict_proba(texts)
    one_by_one = np.vstack([classifier.predict_proba([t]) for t in texts])
    assert np.allclose(one_by_one, full, atol=1e-9)
    assert np.allclose(fast[0], full[0], atol=1e-9)
