"""`python -m bot pulse export`: every closed poll's published results as CSV, for a spreadsheet.

Exactly what the channel summaries show and nothing more: a figure below the anonymity threshold
is left blank, and there are no per-person rows (the database has none to give).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable

from bot.services.pulse import PulseService

COLUMNS = (
    "channel_id",
    "week",
    "closed_at",
    "responses",
    "avg_score",
    "sales_responses",
    "marketing_responses",
    "sales_avg_score",
    "marketing_avg_score",
    "top_causes",
)


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def result_rows(service: PulseService, channel_ids: Iterable[str] | None = None) -> list[dict[str, str]]:
    rows = []
    polls = sorted(service.repo.polls(["closed"], channel_ids), key=lambda p: (p.channel_id, p.period_key))
    for poll in polls:
        results = service.results_for(poll)
        split = results.breakdown
        side_scores = (split.avg_scores or {}) if split else {}
        rows.append(
            {
                "channel_id": poll.channel_id,
                "week": poll.period_key,
                "closed_at": poll.closed_at.isoformat(timespec="minutes") if poll.closed_at else "",
                "responses": str(results.responses),
                "avg_score": _score(results.avg_score),
                "sales_responses": str(split.counts["sales"]) if split else "",
                "marketing_responses": str(split.counts["marketing"]) if split else "",
                "sales_avg_score": _score(side_scores.get("sales")),
                "marketing_avg_score": _score(side_scores.get("marketing")),
                "top_causes": "; ".join(f"{cause} ({count})" for cause, count in results.top_causes),
            }
        )
    return rows


def export_results(service: PulseService, out: str, channel_ids: Iterable[str] | None = None) -> int:
    rows = result_rows(service, channel_ids)
    handle = sys.stdout if out == "-" else open(out, "w", newline="", encoding="utf-8")  # noqa: SIM115
    try:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if handle is not sys.stdout:
            handle.close()
    return len(rows)
