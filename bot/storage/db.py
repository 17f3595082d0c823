"""Engine and session factory for SQLite (default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(RuntimeError):
    """The database cannot be reached or prepared; str() is one line for the operator."""


def make_engine(url: str) -> Engine:
    """hide_parameters: a failed statement's error (and so any logged traceback) must not carry the
    values it tried to write, such as a submitted correction's text."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One connection per process: SQLite allows one writer at a time anyway, and threads queueing
        # on the pool wait in order, where SQLite's own busy loop sleeps up to 100 ms per retry.
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # WAL lets web and clock share the file
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; no fsync per commit
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Deleted or overwritten content (an erased voter hash) is zeroed, not left in free space.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True)


def alembic_config(connection=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(connection) -> None:
    """Bring the schema to the newest migration (Alembic), inside the caller's transaction."""
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def connect(url: str) -> sessionmaker[Session]:
    """Open the database, apply pending migrations, and return a session factory."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # web workers and the clock may start together: one creates the schema, the others wait
                conn.execute(text("SELECT pg_advisory_xact_lock(7412001)"))
            migrate(conn)
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseError(f"cannot open the database ({reason}): check DATABASE_URL") from None
    return sessionmaker(engine, expire_on_commit=False)
