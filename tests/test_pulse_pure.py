"""The pulse without Slack or a database: schedules (daylight saving included), anonymity rules, views."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot import ids
from bot.listeners.actions.pulse import parse_click
from bot.services.aggregation import TrendPoint, aggregate, trend, voter_hash
from bot.services.chart import trend_chart
from bot.services.schedule import Schedule, parse_clock, parse_schedule, period_key, trend_periods
from bot.storage.pulse_repository import Answer
from bot.views import pulse as views
from bot.views.validate import message_problems
from model.playbook import load_playbook

BERLIN = Schedule(0, "10:00", "Europe/Berlin")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def playbook():
    return load_playbook()


# ---- schedules ---------------------------------------------------------------------------------
def test_monday_ten_oclock_berlin_stays_ten_oclock_across_spring_forward():
    # Clocks go forward on Sunday 29 March 2026: CET (UTC+1) -> CEST (UTC+2).
    before = BERLIN.next_run(utc(2026, 3, 20, 12, 0))
    after = BERLIN.next_run(before)
    assert before == utc(2026, 3, 23, 9, 0)  # 10:00 CET
    assert after == utc(2026, 3, 30, 8, 0)  # 10:00 CEST: one hour earlier in UTC
    for run in (before, after):
        local = run.astimezone(BERLIN.zone)
        assert (local.weekday(), local.hour, local.minute) == (0, 10, 0)
    assert after - before == timedelta(days=7) - timedelta(hours=1)


def test_monday_ten_oclock_berlin_stays_ten_oclock_across_fall_back():
    # Clocks go back on Sunday 25 October 2026: CEST -> CET.
    before = BERLIN.next_run(utc(2026, 10, 17, 0, 0))
    after = BERLIN.next_run(before)
    assert before == utc(2026, 10, 19, 8, 0)
    assert after == utc(2026, 10, 26, 9, 0)
    assert after.astimezone(BERLIN.zone).hour == 10


def test_the_last_run_is_never_in_the_future_and_the_next_always_is():
    moments = [
        utc(2026, 3, 30, 7, 59),
        utc(2026, 3, 30, 8, 0),
        utc(2026, 3, 30, 8, 1),
        utc(2026, 3, 29, 1, 30),
    ]
    for now in moments:
        assert BERLIN.last_run(now) <= now < BERLIN.next_run(now)
        assert BERLIN.next_run(now) - BERLIN.last_run(now) <= timedelta(days=7, hours=1)
    assert BERLIN.last_run(utc(2026, 3, 30, 7, 59)) == utc(2026, 3, 23, 9, 0)
    assert BERLIN.last_run(utc(2026, 3, 30, 8, 0)) == utc(2026, 3, 30, 8, 0)


def test_a_wall_time_skipped_by_daylight_saving_still_runs_once_that_day():
    sunday_230 = Schedule(6, "02:30", "Europe/Berlin")  # 02:30 does not exist on 29 March 2026
    run = sunday_230.next_run(utc(2026, 3, 28, 12, 0))
    assert run.astimezone(sunday_230.zone).date() == date(2026, 3, 29)
    assert sunday_230.next_run(run) > run + timedelta(days=6)


def test_timezones_far_from_utc_land_on_the_right_local_day():
    friday_late = Schedule(4, "23:30", "America/Los_Angeles")
    run = friday_late.next_run(utc(2026, 6, 1, 0, 0))
    assert run == utc(2026, 6, 6, 6, 30)  # Saturday in UTC, Friday 23:30 in LA
    assert friday_late.period_of(run) == "2026-W23"
    auckland = Schedule(0, "09:00", "Pacific/Auckland")
    run = auckland.next_run(utc(2026, 6, 1, 0, 0))
    assert run.astimezone(auckland.zone).weekday() == 0 and run.weekday() == 6  # Sunday in UTC


def test_the_period_is_the_iso_week_of_the_local_date():
    assert period_key(date(2026, 3, 30)) == "2026-W14"
    assert period_key(date(2027, 1, 1)) == "2026-W53"  # ISO years differ from calendar years
    weeks = ["2025-W47", "2025-W48", "2025-W49", "2025-W50", "2025-W51", "2025-W52", "2026-W01", "2026-W02"]
    assert trend_periods("2026-W02") == weeks


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["fri", "15:00"], Schedule(4, "15:00", "UTC")),
        (["Friday", "9:30", "europe/berlin"], Schedule(4, "09:30", "Europe/Berlin")),
        (["mon", "3pm", "America/New_York"], Schedule(0, "15:00", "America/New_York")),
        (["sun", "12am"], Schedule(6, "00:00", "UTC")),
    ],
)
def test_schedules_are_read_the_way_people_write_them(words, expected):
    assert parse_schedule(words, "UTC") == expected


@pytest.mark.parametrize(
    ("words", "complaint"),
    [
        (["fri"], "day and a time"),
        (["someday", "15:00"], "not a weekday"),
        (["fri", "25:00"], "not a time"),
        (["fri", "15:00", "Mars/Olympus"], "not a timezone"),
        (["fri", "15:00", "Europe/Berlin", "extra"], "day and a time"),
    ],
)
def test_bad_schedules_say_what_is_wrong(words, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_schedule(words, "UTC")


def test_clock_times():
    assert parse_clock("12pm") == "12:00"
    assert parse_clock("7:05am") == "07:05"
    with pytest.raises(ValueError):
        parse_clock("13pm")


# ---- anonymity ---------------------------------------------------------------------------------
def test_the_voter_hash_is_keyed_per_poll_and_hides_the_user():
    one = voter_hash("key-a", 1, "U0AE00001")
    assert one == voter_hash("key-a", 1, "U0AE00001")
    assert one != voter_hash("key-b", 1, "U0AE00001")
    assert one != voter_hash("key-a", 2, "U0AE00001")
    assert "U0AE00001" not in one and len(one) == 64


def answers(*rows) -> list[Answer]:
    return [Answer(*row) for row in rows]


def test_nothing_is_shown_below_the_threshold():
    results = aggregate(answers(("sales", 5, "lead_quality"), ("marketing", 1, "lead_quality")), 3)
    assert not results.shown
    assert results.responses == 2
    assert results.avg_score is None and results.top_causes == () and results.breakdown is None


def test_the_threshold_never_goes_below_three():
    results = aggregate(answers(("sales", 5, None), ("sales", 4, None)), 1)
    assert results.min_responses == 3 and not results.shown


def test_averages_top_causes_and_the_gap_between_the_sides():
    results = aggregate(
        answers(
            ("sales", 2, "lead_quality"),
            ("sales", 3, "lead_quality"),
            ("sales", 4, "pricing_dispute"),
            ("marketing", 4, "communication_gap"),
            ("marketing", 5, "communication_gap"),
            ("marketing", 3, "lead_quality"),
        ),
        3,
    )
    assert results.shown and results.responses == 6
    assert results.avg_score == pytest.approx(3.5)
    assert results.top_causes[0] == ("lead_quality", 3)
    assert results.top_cause == "lead_quality"
    breakdown = results.breakdown
    assert breakdown.counts == {"sales": 3, "marketing": 3}
    assert breakdown.avg_scores == {"sales": pytest.approx(3.0), "marketing": pytest.approx(4.0)}
    gaps = {g.cause: g for g in breakdown.gaps}
    assert gaps["communication_gap"].sales == 0 and gaps["communication_gap"].marketing == pytest.approx(
        2 / 3
    )
    assert gaps["lead_quality"].gap == pytest.approx(2 / 3 - 1 / 3)


def test_no_side_breakdown_unless_each_side_has_three():
    results = aggregate(
        answers(("sales", 2, "lead_quality"), ("sales", 3, None), ("sales", 4, None), ("marketing", 5, None)),
        3,
    )
    assert results.shown and results.avg_score == pytest.approx(3.5)
    assert results.breakdown is None


def test_no_side_breakdown_when_the_rest_could_be_worked_out_by_subtraction():
    # 3 Sales, 3 Marketing and one "Other": total minus the two sides would reveal Other's score.
    rows = [("sales", 3, None)] * 3 + [("marketing", 4, None)] * 3 + [("other", 1, None)]
    assert aggregate(answers(*rows), 3).breakdown is None
    rows += [("other", 2, None), ("other", 5, None)]
    assert aggregate(answers(*rows), 3).breakdown is not None


def test_an_average_needs_three_scores_not_just_three_responses():
    results = aggregate(answers(("sales", 5, None), ("sales", None, "blame_game"), ("other", None, None)), 3)
    assert results.shown and results.avg_score is None


def test_the_trend_has_eight_weeks_with_gaps():
    closed = [
        SimpleNamespace(id=1, period_key="2026-W10", avg_score=3.0, responses=5),
        SimpleNamespace(id=2, period_key="2026-W12", avg_score=None, responses=2),
    ]
    current = aggregate(answers(*[("sales", 4, None)] * 3), 3)
    points = trend("2026-W14", closed, current)
    assert [p.period_key for p in points][0] == "2026-W07" and len(points) == 8
    assert views.trend_text(points) == (
        "W07 no poll · W08 no poll · W09 no poll · W10 3.0 · W11 no poll · W12 too few · W13 no poll · W14 4.0"
    )
    assert "+1.0" in views.trend_change(points)


# ---- views -------------------------------------------------------------------------------------
def test_the_poll_asks_three_questions_and_shows_only_the_count(playbook):
    poll = views.poll_message(42, playbook, 5, utc(2026, 4, 2, 8, 0), "Europe/Berlin")
    assert message_problems(poll) == []
    elements = [e for b in poll["blocks"] if b["type"] == "actions" for e in b["elements"]]
    sides = [e for e in elements if e["action_id"].startswith(ids.PULSE_SIDE)]
    scores = [e for e in elements if e["action_id"].startswith(ids.PULSE_SCORE)]
    (select,) = [e for e in elements if e["action_id"] == ids.PULSE_CAUSE]
    assert [e["text"]["text"] for e in sides] == ["Sales", "Marketing", "Other"]
    assert [e["text"]["text"] for e in scores] == ["1", "2", "3", "4", "5"]
    assert len(select["options"]) == 14 and select["options"][-1]["value"] == "42:nothing"
    assert {o["text"]["text"] for o in select["options"][:13]} == {c.title for c in playbook.causes}
    assert all(ids.PULSE_ACTION.match(e["action_id"]) for e in elements)
    assert "5 responses" in poll["text"] and "Thu 2 Apr, 10:00 CEST" in poll["text"]
    assert parse_click(scores[3]) == (42, "score", 4)
    assert parse_click({"action_id": ids.PULSE_CAUSE, "selected_option": select["options"][11]}) == (
        42,
        "cause",
        playbook.causes[11].id,
    )
    with pytest.raises(ValueError):
        parse_click({"action_id": "pulse_score:9", "value": "42:9"})


def test_the_summary_has_the_facts_in_text_for_screen_readers(playbook):
    rows = [("sales", 2, "lead_quality")] * 3 + [("marketing", 4, "communication_gap")] * 3
    results = aggregate(answers(*rows), 3)
    points = trend(
        "2026-W14", [SimpleNamespace(id=1, period_key="2026-W13", avg_score=2.5, responses=4)], results
    )
    summary = views.summary_message(results, points, playbook, "2026-W14")
    assert message_problems(summary) == []
    text = summary["text"]
    for fact in ("6 people answered", "3.0/5", "W13 2.5", "W14 3.0", "Lead quality and hand-off", "Sales 3"):
        assert fact in text, fact
    everything = str(summary["blocks"])
    assert "Write a lead SLA" in everything or "Start a weekly 30-minute pipeline sync" in everything
    assert "Sales 100% · Marketing 0%" in everything


def test_a_summary_with_too_few_answers_shows_no_figures(playbook):
    results = aggregate(answers(("sales", 1, "blame_game"), ("marketing", 5, "blame_game")), 3)
    summary = views.summary_message(results, trend("2026-W14", [], results), playbook, "2026-W14")
    assert "too few to show" in summary["text"]
    assert "Blame game" not in str(summary) and "/5" not in str(summary)


def test_the_confirmation_repeats_only_the_clickers_own_answer(playbook):
    reply = views.vote_confirmation(
        Answer("sales", 4, None), utc(2026, 4, 2, 8, 0), "Europe/Berlin", playbook
    )
    assert message_problems(reply) == []
    assert "Sales · 4/5" in reply["text"] and "question 3" in reply["text"]


def test_the_chart_is_a_png():
    points = [TrendPoint(f"2026-W{n:02d}", None if n % 3 == 0 else 3 + n / 10, 5) for n in range(7, 15)]
    png = trend_chart(points)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert "W09 too few" in views.trend_alt_text(points)
