"""How long Truce takes to diagnose a 100-message thread once it is read (the Web API excluded).

    .venv/bin/python -m bench.thread_speed [--model PATH] [--rounds 200] [--messages 100]

The thread is made of the project's labelled thread messages (model/data/threads/dev.jsonl), cycled
to the length asked. Prints medians and percentiles; machines here are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench.model_speed import percentile
from bot.services.diagnose import Diagnoser, Said
from model.dataset import DATA_DIR, load_threads
from model.playbook import load_playbook
from model.predict import DEFAULT_ARTIFACT, Classifier
from model.thread import thread_messages


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACT)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args(argv)

    diagnoser = Diagnoser(Classifier.load(args.model), load_playbook())
    pool = [m for record in load_threads(DATA_DIR / "threads" / "dev.jsonl") for m in thread_messages(record)]
    said = [Said(pool[i % len(pool)].text, f"U{i % 7}", f"1700000000.{i:06d}") for i in range(args.messages)]
    for _ in range(5):  # warm-up
        diagnoser.diagnose_conversation(said, "thread", "can you help here?")
    times = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        diagnoser.diagnose_conversation(said, "thread", "can you help here?")
        times.append((time.perf_counter() - started) * 1000)
    result = {
        "messages": args.messages,
        "mean_chars_per_message": round(statistics.mean(len(s.text) for s in said), 1),
        "diagnose_ms_p50": round(percentile(times, 50), 2),
        "diagnose_ms_p90": round(percentile(times, 90), 2),
        "diagnose_ms_p99": round(percentile(times, 99), 2),
        "rounds": args.rounds,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
