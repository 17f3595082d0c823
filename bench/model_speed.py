"""How fast and how big the classifier is: load time, per-message latency, artifact size, memory.

    .venv/bin/python -m bench.model_speed [--model PATH] [--rounds 3000]

Prints medians and percentiles; machines here are shared and noisy, so read ratios, not single runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

from model.dataset import TEST_FILE, read_jsonl
from model.predict import DEFAULT_ARTIFACT, Classifier


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACT)
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args(argv)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    load_times = []
    for _ in range(args.loads):
        started = time.perf_counter()
        classifier = Classifier.load(args.model)
        load_times.append(time.perf_counter() - started)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    texts = [e.text for e in read_jsonl(TEST_FILE)]
    for text in texts[:50]:  # warm-up
        classifier.predict(text)
    latencies = []
    for i in range(args.rounds):
        text = texts[i % len(texts)]
        started = time.perf_counter()
        classifier.predict(text)
        latencies.append((time.perf_counter() - started) * 1000)
    long_text = " ".join(texts)[:40000]
    long_ms = []
    for _ in range(20):
        started = time.perf_counter()
        classifier.predict(long_text[:4000])
        long_ms.append((time.perf_counter() - started) * 1000)

    result = {
        "artifact_mb": round(args.model.stat().st_size / 1e6, 2),
        "load_s_median": round(statistics.median(load_times), 3),
        "predict_ms_p50": round(percentile(latencies, 50), 3),
        "predict_ms_p90": round(percentile(latencies, 90), 3),
        "predict_ms_p99": round(percentile(latencies, 99), 3),
        "predict_4000_chars_ms_median": round(statistics.median(long_ms), 3),
        "rss_growth_mb_first_load": round((rss_after - rss_before) / 1024, 1),
        "rounds": args.rounds,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
