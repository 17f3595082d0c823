"""A fresh PostgreSQL database per test, on the server .ci/run starts (TRUCE_TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def fresh_database(server_url: str) -> str:
    url = make_url(server_url)
    name = f"truce_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def database_url(backend: str, tmp_path: Path) -> str:
    """A fresh database of the given kind: "sqlite" (a file in tmp_path) or "postgres" (skipped
    when no server is configured)."""
    if backend == "postgres":
        server = os.environ.get("TRUCE_TEST_POSTGRES_URL")
        if not server:
            pytest.skip("TRUCE_TEST_POSTGRES_URL is not set (.ci/run starts a server and sets it)")
        return fresh_database(server)
    return f"sqlite:///{tmp_path / 'truce.db'}"


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
