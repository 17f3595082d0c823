"""The bounded soak (bench/soak.py) as a correctness test: every delivery acknowledged within Slack's
3 s, every mention answered exactly once despite retries and HTTP 429s, the process alive, memory flat."""

import json

import pytest

from bench.soak import run_soak


@pytest.mark.soak
def test_soak_1000_mentions_each_retried_with_429s(artifact, tmp_path):
    result = run_soak(mentions=1000, concurrency=20, every=10, artifact=artifact, workdir=tmp_path)
    print(json.dumps(result, indent=2))  # the figures, for the record (pytest -s shows them)
    assert result["statuses"] == {200: 2000}
    assert result["ack_ms_max"] < 3000
    assert result["answered_once"] == 1000
    assert result["answered_twice_or_more"] == 0
    assert result["missing"] == 0 and result["unexpected"] == 0
    assert result["http_429_served"] >= 90
    assert result["server_alive"] and result["tracebacks_in_log"] == 0
    rss = result["server_rss_mb"]
    assert rss["end"] - rss["warm"] < 0.25 * rss["warm"], f"server memory grew: {rss}"
