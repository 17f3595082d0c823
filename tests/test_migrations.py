"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

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
