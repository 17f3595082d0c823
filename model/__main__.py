"""python -m model train | predict | evaluate FILE.jsonl"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model.dataset import DataError, read_jsonl
from model.metrics import evaluate, format_report
from model.predict import DEFAULT_ARTIFACT, Classifier, ModelError

DEFAULT_FEEDBACK = Path("data") / "feedback.jsonl"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model", description="Truce's friction classifier")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="fit the model and write the artifact and its sidecar")
    train.add_argument("--out", type=Path, default=DEFAULT_ARTIFACT)
    train.add_argument(
        "--with-feedback",
        nargs="?",
        const=DEFAULT_FEEDBACK,
        type=Path,
        metavar="FILE",
        help=f"also learn from users' corrections (JSON lines; default {DEFAULT_FEEDBACK}, "
        "written by `python -m bot feedback export`)",
    )
    train.add_argument("--if-needed", action="store_true", help="skip when the artifact matches the data")
    predict = sub.add_parser(
        "predict", help='read {"text": ...} JSON lines on stdin, write one diagnosis per line'
    )
    predict.add_argument("--model", type=Path, default=DEFAULT_ARTIFACT)
    ev = sub.add_parser("evaluate", help="report metrics on a labelled JSON-lines file")
    ev.add_argument("file", type=Path)
    ev.add_argument("--model", type=Path, default=DEFAULT_ARTIFACT)
    ev.add_argument("--json", action="store_true", help="print the metrics as JSON")
    th = sub.add_parser("evaluate-threads", help="dominant-cause accuracy on labelled threads (JSON lines)")
    th.add_argument("file", type=Path)
    th.add_argument("--model", type=Path, default=DEFAULT_ARTIFACT)
    th.add_argument("--json", action="store_true", help="print the metrics as JSON")
    tune = sub.add_parser(
        "tune-threads",
        help="choose the thread reading's settings by cross-validation on the training threads",
    )
    tune.add_argument("--model", type=Path, default=DEFAULT_ARTIFACT)
    tune.add_argument("--top", type=int, default=10)
    return parser


def _train(args) -> int:
    from model.train import is_current, train

    extra = []
    if args.with_feedback is not None:
        if not args.with_feedback.is_file():
            print(
                f"error: no feedback file at {args.with_feedback}: run `python -m bot feedback export` first",
                file=sys.stderr,
            )
            return 2
        extra = read_jsonl(args.with_feedback)
        print(f"including {len(extra)} corrections from {args.with_feedback}", file=sys.stderr)
    elif args.if_needed and is_current(args.out):
        print(f"model at {args.out} is up to date", file=sys.stderr)
        return 0
    meta = train(out=args.out, extra=extra, progress=lambda line: print(line, file=sys.stderr))
    if meta["test_metrics"]:
        print(format_report(meta["test_metrics"]))
    print(
        f"wrote {args.out} ({meta['artifact_bytes'] / 1e6:.1f} MB, version {meta['model_version']}, "
        f"threshold {meta['threshold']}, {meta['train_seconds']}s)"
    )
    return 0


def _predict(args) -> int:
    classifier = Classifier.load(args.model)
    bad = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text = record["text"] if isinstance(record, dict) else None
            if not isinstance(text, str):
                raise KeyError("text")
        except (json.JSONDecodeError, KeyError):
            message = f'line {number}: expected a JSON object with a "text" string'
            print(json.dumps({"error": message}), flush=True)
            print(f"error: {message}", file=sys.stderr)
            bad += 1
            continue
        print(json.dumps(classifier.predict(text).to_json(), ensure_ascii=False), flush=True)
    return 1 if bad else 0


def _evaluate(args) -> int:
    classifier = Classifier.load(args.model)
    examples = read_jsonl(args.file)
    diagnoses = classifier.predict_many([e.text for e in examples])
    metrics = evaluate(
        [e.label for e in examples],
        [d.label for d in diagnoses],
        ranked=[[label for label, _ in d.ranked] for d in diagnoses],
    )
    print(json.dumps(metrics, indent=2) if args.json else format_report(metrics))
    return 0


def _tune_threads(args) -> int:
    from model.dataset import POINTS_FILE, THREAD_TRAIN_FILE, THREADS_DIR, load_points, load_threads
    from model.thread import RULES
    from model.thread_tuning import tune

    rows = tune(
        Classifier.load(args.model),
        load_threads(THREAD_TRAIN_FILE),
        load_points(POINTS_FILE),
        load_threads(THREADS_DIR / "dev.jsonl"),
    )
    print("train (out-of-fold)  dev   settings")
    for train_acc, dev_acc, rules in rows[: args.top]:
        print(f"{train_acc:.3f}                {dev_acc:.3f} {rules}")
    current = next((row for row in rows if row[2] == RULES), None)
    if current:
        print(f"current: train {current[0]:.3f} dev {current[1]:.3f} {RULES}")
    return 0


def _evaluate_threads(args) -> int:
    from model.dataset import load_threads
    from model.thread import evaluate_threads

    metrics = evaluate_threads(Classifier.load(args.model), load_threads(args.file))
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(format_report(metrics))
        print(
            f"threads {metrics['threads']} · dominant cause accuracy {metrics['accuracy']:.3f} · "
            f"top 2 {metrics['top2_accuracy']:.3f} · blame game recall {metrics['blame_recall']}"
            + (
                f" · second cause found {metrics['second_found']:.3f}"
                if metrics["second_found"] is not None
                else ""
            )
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        commands = {
            "train": _train,
            "predict": _predict,
            "evaluate": _evaluate,
            "evaluate-threads": _evaluate_threads,
            "tune-threads": _tune_threads,
        }
        return commands[args.command](args)
    except (ModelError, DataError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
