"""The 8-week trend as a PNG (matplotlib, Agg, no pyplot state: safe in threads)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.services.aggregation import TrendPoint


def trend_chart(points: list[TrendPoint]) -> bytes:
    """A line of the average score per week; weeks without a (publishable) result are gaps."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = ["W" + p.period_key.split("-W")[1] for p in points]
    values = [p.avg_score if p.avg_score is not None else float("nan") for p in points]
    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    xs = list(range(len(points)))
    axes.plot(xs, values, marker="o", linewidth=2, color="#2c3e50")
    for x, value in zip(xs, values, strict=True):
        if value == value:  # not NaN
            axes.annotate(f"{value:.1f}", (x, value), textcoords="offset points", xytext=(0, 8), ha="center")
    axes.set_xticks(xs, labels)
    axes.set_ylim(0.5, 5.5)
    axes.set_yticks([1, 2, 3, 4, 5])
    axes.set_ylabel("average score (1–5)")
    axes.set_title("How well Sales and Marketing worked together")
    axes.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
