"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from bot.storage.db import alembic_config, connect
from bot.storage.models import Base
from tests.pg import BACKENDS, database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_models_and_run_both_ways(backend, tmp_path):
    url = database_url(backend, tmp_path)
    sessions = connect(url)  # applies every migration
    engine = sessions.kw["bind"]
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        command.check(alembic_config(conn))  # raises if the models and the migrations disagree
    connect(url).kw["bind"].dispose()  # a second start finds nothing to do
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(create_engine(url)).get_table_names()) <= {"alembic_version"}
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_data_survives_migration_0002_and_back(backend, tmp_path):
    url = database_url(backend, tmp_path)
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(
            text(
                "INSERT INTO pulse_polls (id, channel_id, period_key, status, opened_at, closes_at, "
                "reminder_sent, attempts, responses) VALUES (1, 'C1', '2026-W14', 'open', "
                "'2026-03-30 08:00:00', '2026-04-02 08:00:00', false, 1, 0)"
            )
        )
        for n, score in enumerate((2, 4, 5), start=1):
            conn.execute(
                text("INSERT INTO pulse_responses (id, poll_id, voter_hash, score) VALUES (:n, 1, :h, :s)"),
                {"n": n, "h": f"{n:064x}", "s": score},
            )
        for surface, channel in (
            ("shortcut", "C0SHARED01"),
            ("remedy", "D0PAT00001"),
            ("mention", "C0SHARED01"),
        ):
            conn.execute(
                text(
                    "INSERT INTO diagnosis_events (team_id, channel_id, label, surface, created_at) "
                    "VALUES ('T1', :c, 'lead_quality', :s, '2026-03-30 08:00:00')"
                ),
                {"c": channel, "s": surface},
            )
    answers = "SELECT id, voter_hash, score FROM pulse_responses"
    events = "SELECT surface, channel_id FROM diagnosis_events ORDER BY id"
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        rows = conn.execute(text(answers)).all()
        assert [tuple(e) for e in conn.execute(text(events))] == [
            ("shortcut", None),  # where a private diagnosis was asked is forgotten
            ("remedy", None),
            ("mention", "C0SHARED01"),
        ]
    assert sorted((h, s) for _, h, s in rows) == [(f"{n:064x}", s) for n, s in ((1, 2), (2, 4), (3, 5))]
    assert all(isinstance(i, str) and len(i) == 32 for i, _, _ in rows)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
        assert sorted(s for _, _, s in conn.execute(text(answers))) == [2, 4, 5]
    engine.dispose()
