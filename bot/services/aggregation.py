"""What may be published about anonymous pulse answers: the keyed voter hash, the aggregate with
its k-anonymity rules (Breakdown, PulseResults) and the week-by-week trend. Pure: no Slack, no database."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.services.schedule import trend_periods

if TYPE_CHECKING:
    from bot.storage.models import PulsePoll
    from bot.storage.pulse_repository import Answer

SIDES = ("sales", "marketing", "other")
NOTHING = "nothing"
SCORES = (1, 2, 3, 4, 5)


def voter_hash(key: str, poll_id: int, user_id: str) -> str:
    """A keyed hash that lets one person change their answer without storing who they are.
    Different for every poll, useless without the secret key, and erased when the poll closes."""
    return hmac.new(key.encode(), f"{poll_id}:{user_id}".encode(), hashlib.sha256).hexdigest()


def parse_choice(field_name: str, raw: str) -> str | int:
    """Validate one answer value from a click. Raises ValueError."""
    if field_name == "side" and raw in SIDES:
        return raw
    if field_name == "score" and raw.isdigit() and int(raw) in SCORES:
        return int(raw)
    if field_name == "cause" and raw:
        return raw
    raise ValueError(f"bad {field_name} answer")


def _safe_split(groups: Counter, shown: tuple[str, ...], k: int) -> bool:
    """May per-group figures for `shown` be published? Each shown group needs k people, and what
    is left over must be empty or k strong too — else subtracting from the total singles people out."""
    if any(groups.get(name, 0) < k for name in shown):
        return False
    rest = sum(count for name, count in groups.items() if name not in shown)
    return rest == 0 or rest >= k


@dataclass(frozen=True)
class CauseGap:
    cause: str
    sales: float  # share of Sales answers naming the cause, 0..1
    marketing: float

    @property
    def gap(self) -> float:
        return self.sales - self.marketing


@dataclass(frozen=True)
class Breakdown:
    """Per-side figures, only ever built when every side shown has enough people."""

    counts: dict[str, int]
    avg_scores: dict[str, float] | None
    gaps: tuple[CauseGap, ...] | None


@dataclass(frozen=True)
class PulseResults:
    responses: int
    min_responses: int
    avg_score: float | None = None
    scored: int = 0
    top_causes: tuple[tuple[str, int], ...] = ()
    cause_answers: int = 0
    nothing: int = 0
    breakdown: Breakdown | None = None

    @property
    def shown(self) -> bool:
        return self.responses >= self.min_responses

    @property
    def top_cause(self) -> str | None:
        return self.top_causes[0][0] if self.top_causes else None


def aggregate(answers: list[Answer], min_responses: int) -> PulseResults:
    """What may be published about a poll's answers, and nothing more."""
    k = max(3, min_responses)
    n = len(answers)
    if n < k:
        return PulseResults(responses=n, min_responses=k)
    scores = [a.score for a in answers if a.score is not None]
    causes = [a.cause for a in answers if a.cause]
    avg = sum(scores) / len(scores) if len(scores) >= k else None
    named = Counter(c for c in causes if c != NOTHING)
    top = tuple(sorted(named.items(), key=lambda item: (-item[1], item[0])))[:3] if len(causes) >= k else ()
    return PulseResults(
        responses=n,
        min_responses=k,
        avg_score=avg,
        scored=len(scores),
        top_causes=top,
        cause_answers=len(causes),
        nothing=causes.count(NOTHING) if len(causes) >= k else 0,
        breakdown=_breakdown(answers, k),
    )


def _breakdown(answers: list[Answer], k: int) -> Breakdown | None:
    pair = ("sales", "marketing")
    sides = Counter(a.side or "unknown" for a in answers)
    if not _safe_split(sides, pair, k):
        return None
    scored = Counter(a.side or "unknown" for a in answers if a.score is not None)
    avg_scores = None
    if _safe_split(scored, pair, k):
        avg_scores = {
            side: sum(a.score for a in answers if a.side == side and a.score is not None) / scored[side]
            for side in pair
        }
    with_cause = Counter(a.side or "unknown" for a in answers if a.cause)
    gaps = None
    if _safe_split(with_cause, pair, k):
        named = {a.cause for a in answers if a.cause and a.cause != NOTHING and a.side in pair}
        share = {side: Counter(a.cause for a in answers if a.side == side and a.cause) for side in pair}
        gaps = tuple(
            sorted(
                (
                    CauseGap(
                        c,
                        share["sales"][c] / with_cause["sales"],
                        share["marketing"][c] / with_cause["marketing"],
                    )
                    for c in named
                ),
                key=lambda g: (-abs(g.gap), g.cause),
            )
        )[:3]
    return Breakdown(counts={side: sides[side] for side in pair}, avg_scores=avg_scores, gaps=gaps)


@dataclass(frozen=True)
class TrendPoint:
    period_key: str
    avg_score: float | None  # None: no poll, or too few answers to show
    responses: int | None  # None: no poll that week


def trend(last_key: str, closed: list[PulsePoll], current: PulseResults | None = None) -> list[TrendPoint]:
    """Eight weeks ending with `last_key`, from closed polls' stored aggregates."""
    by_period = {p.period_key: p for p in closed}
    points = []
    for key in trend_periods(last_key):
        if key == last_key and current is not None:
            points.append(TrendPoint(key, current.avg_score, current.responses))
        elif key in by_period:
            poll = by_period[key]
            points.append(TrendPoint(key, poll.avg_score, poll.responses))
        else:
            points.append(TrendPoint(key, None, None))
    return points
