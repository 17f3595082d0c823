"""All reads and writes the listeners need, each in its own short transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.counts_behind import CountsBehind
from bot.storage.models import (
    Checkin,
    CheckinAnswer,
    Correction,
    DiagnosisEvent,
    Experiment,
    Feedback,
    HandledRequest,
    HelpfulVote,
    PulseChannel,
    PulsePoll,
    PulseResponse,
)
from bot.storage.workspace import Workspace

# Every table whose rows belong to one workspace, children before parents (for deletion).
WORKSPACE_TABLES = (
    CheckinAnswer,
    Checkin,
    Experiment,
    PulseResponse,
    PulsePoll,
    PulseChannel,
    DiagnosisEvent,
    HelpfulVote,
    Feedback,
    Correction,
)


def _ids(team: Workspace | str | None) -> dict:
    ws = Workspace.of(team)
    return {"team_id": ws.team_id, "enterprise_id": ws.enterprise_id}


@dataclass(frozen=True)
class TrendPoint:
    """One closed pulse of one channel, as aggregates only."""

    period_key: str
    closed_at: datetime
    responses: int
    avg_score: float


@functools.cache
def _claim_statement(dialect: str, count: int):
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    moment = bindparam("created_at", type_=HandledRequest.created_at.type)  # stored as every other time
    return (
        insert(HandledRequest)
        .values([{"key": bindparam(f"key{i}"), "created_at": moment} for i in range(count)])
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(HandledRequest.key)  # the rows inserted now (psycopg's rowcount says -1 here)
    )


class Prepared:
    """A Core statement compiled once for a dialect and run on a pooled connection's DB-API cursor.

    For the one statement on the acknowledgement path: SQLAlchemy's per-execution work (cache lookup,
    result and type processing, the transaction object) cost 0.26 ms of the 0.33 ms a claim took on
    SQLite, the largest part of what the web process spends per request (`bench.ack`, py-spy). The
    SQL text, the parameter order and the parameters' conversions (SQLite's datetime strings) still
    come from SQLAlchemy's compiler, so it is the same statement Core would run."""

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup if compiled.positional else None
        self.convert = {}
        for name, bind in compiled.binds.items():
            processor = dialect.type_descriptor(bind.type).bind_processor(dialect)
            if processor is not None:
                self.convert[name] = processor

    def run(self, engine, values: dict) -> list[tuple]:
        """Execute and commit; the rows it returned."""
        values = {name: self.convert[name](v) if name in self.convert else v for name, v in values.items()}
        params = tuple(values[name] for name in self.order) if self.order is not None else values
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql, params)
                rows = cursor.fetchall()
            finally:
                cursor.close()
            connection.commit()
            return rows
        except Exception:
            connection.rollback()
            raise
        finally:
            connection.close()  # back to the pool


_PREPARED_CLAIMS: dict[tuple, Prepared] = {}


def _prepared_claim(engine, count: int) -> Prepared:
    """Compiled once per kind of database and number of keys: compiling costs more than running it."""
    dialect = engine.dialect
    key = (dialect.name, dialect.driver, dialect.paramstyle, count)
    if key not in _PREPARED_CLAIMS:
        _PREPARED_CLAIMS[key] = Prepared(_claim_statement(dialect.name, count), dialect)
    return _PREPARED_CLAIMS[key]


_RECORD_DIAGNOSIS = insert(DiagnosisEvent).values(
    label=bindparam("label"),
    surface=bindparam("surface"),
    team_id=bindparam("team_id"),
    enterprise_id=bindparam("enterprise_id"),
    channel_id=bindparam("channel_id"),
    created_at=bindparam("created_at"),
)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def refusal(row, channel_id: str, message_ts: str, now: datetime) -> str | None:
    """Why a click on a poll's or check-in's message cannot count: "elsewhere" (it did not come from
    the row's own message), "closed", or None when it can."""
    if not row.message_ts or (row.channel_id, row.message_ts) != (channel_id, message_ts):
        return "elsewhere"
    if row.status != "open" or as_utc(row.closes_at) <= now:
        return "closed"
    return None


def voter_row(session: Session, model, parent, voter_hash: str, **new):
    """This voter's answer row under `parent` (a model column equal to the poll or check-in id, e.g.
    `PulseResponse.poll_id == 3`), created from `new` when it is their first click: (row, first)."""
    row = session.scalar(select(model).where(parent, model.voter_hash == voter_hash))
    if row is not None:
        return row, False
    row = model(voter_hash=voter_hash, **new)
    session.add(row)
    return row, True


class SessionRepository:
    """Holds the session factory; every method is one short transaction."""

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed whole or rolled back whole."""
        with self._sessions.begin() as session:
            yield session

    def _claim_open(
        self,
        model,
        fresh: Callable[[], object],
        key: list,
        now: datetime,
        lease_until: datetime,
        retry_failed: bool,
        renewed: dict,
        in_utc: Callable,
    ):
        """Take the right to post a poll or check-in (`model`), or None if someone has or had it.

        A new row (`fresh()`) is inserted already leased; when the unique constraint says the row
        (found by `key`) exists, it is taken over only while it is pending with an expired lease (a
        failed attempt waiting for its retry), or, when `retry_failed`, after it was given up; the
        takeover also sets `renewed`. `in_utc` makes the row returned timezone-aware."""
        try:
            with self.transaction() as session:
                row = fresh()
                session.add(row)
                session.flush()
                return in_utc(row)
        except IntegrityError:
            pass
        claimable = and_(
            model.status == "pending", or_(model.lease_until.is_(None), model.lease_until <= now)
        )
        if retry_failed:
            claimable = or_(claimable, model.status == "failed")
        with self.transaction() as session:
            taken = session.execute(
                update(model)
                .where(and_(*key, claimable))
                .values(status="pending", lease_until=lease_until, attempts=model.attempts + 1, **renewed)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken != 1:
                return None
            return in_utc(session.scalar(select(model).where(*key)))

    def _claim_close(
        self, model, row_id: int, scope: list, now: datetime, lease_until: datetime, force: bool
    ):
        """Take the right to close an open poll or check-in (`model`: due, or any time when `force`):
        a lease in the row, so that one process of many closes it."""
        conditions = [
            *scope,
            model.id == row_id,
            model.status == "open",
            or_(model.lease_until.is_(None), model.lease_until <= now),
        ]
        if not force:
            conditions.append(model.closes_at <= now)
        with self.transaction() as session:
            taken = session.execute(
                update(model)
                .where(*conditions)
                .values(lease_until=lease_until)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken == 1 and force:  # no more answers once closing has begun
                row = session.get(model, row_id)
                if as_utc(row.closes_at) > now:
                    row.closes_at = now
            return taken == 1

    def _purge_erased(self, table: str) -> None:
        """Make voter hashes erased at close unrecoverable from the database files, as far as the
        engine allows. Runs outside any transaction. Raises SQLAlchemyError, or RuntimeError when
        SQLite could not finish.

        SQLite (every connection has secure_delete on, so freed space is zeroed): a TRUNCATE
        checkpoint copies the write-ahead log into the database file and empties the log, which
        still held the pages as they were before the erase.
        PostgreSQL: UPDATE leaves the old row versions, hash included, in the table and its
        indexes, and a plain VACUUM only marks their space free, bytes intact. CLUSTER rewrites the
        table and its indexes into new files (the old ones are deleted), ordered by the random key,
        so the storage order no longer follows the order of the first clicks either.
        """
        engine = self._sessions.kw["bind"]
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if engine.dialect.name == "sqlite":
                busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
                if busy:
                    raise RuntimeError("the write-ahead log is in use; it was not emptied")
            elif engine.dialect.name == "postgresql":
                # An exclusive lock, held briefly: votes wait, and a long reader makes us give up.
                conn.exec_driver_sql("SET lock_timeout = '10s'")
                try:
                    conn.exec_driver_sql(f"CLUSTER {table} USING {table}_pkey")
                finally:
                    conn.exec_driver_sql("RESET lock_timeout")


class Repository(SessionRepository):
    def __init__(self, sessions: sessionmaker[Session], counts_behind: bool = False):
        super().__init__(sessions)
        # An answer process writes its diagnosis counts in batches (see bot/storage/counts_behind.py).
        self._counts = CountsBehind(sessions.kw["bind"], _RECORD_DIAGNOSIS) if counts_behind else None

    def close(self) -> None:
        """Write what is still waiting to be written."""
        if self._counts is not None:
            self._counts.close()

    # ---- exactly-once delivery ------------------------------------------------------------
    def claim(self, key: str) -> bool:
        """Record that `key` is being handled. False if another attempt already claimed it."""
        return self.claim_each([key]) == [True]

    def claim_each(self, keys: Sequence[str]) -> list[bool]:
        """Claim all `keys` at once; for each, True if claimed now, False if another attempt had.

        This runs before Slack gets its acknowledgement, on every request: one statement (INSERT ..
        ON CONFLICT DO NOTHING RETURNING, which SQLite and PostgreSQL both know), compiled once and run
        on a pooled connection's own cursor, and one commit. The row, not this process, decides:
        several web processes may share the database."""
        keys = [key[:200] for key in keys]
        engine = self._sessions.kw["bind"]
        params = {f"key{i}": key for i, key in enumerate(keys)}
        rows = _prepared_claim(engine, len(keys)).run(engine, {**params, "created_at": datetime.now(UTC)})
        claimed = {row[0] for row in rows}
        return [key in claimed for key in keys]

    def prune_handled(self, before: datetime) -> int:
        with self.transaction() as session:
            return session.execute(delete(HandledRequest).where(HandledRequest.created_at < before)).rowcount

    # ---- diagnoses, feedback, corrections ----------------------------------------------------
    def record_diagnosis(
        self, label: str, surface: str, team: Workspace | str = "", channel_id: str | None = None
    ) -> None:
        # Every reply counts one: a plain INSERT on a pooled connection, without the ORM's unit of work.
        row = {
            "label": label,
            "surface": surface,
            "channel_id": channel_id or None,
            "created_at": datetime.now(UTC),
            **_ids(team),
        }
        if self._counts is not None:
            self._counts.add(row)
            return
        with self._sessions.kw["bind"].begin() as conn:
            conn.execute(_RECORD_DIAGNOSIS, row)

    def diagnosis_counts(
        self, since: datetime, channel_ids: Iterable[str], team: Workspace | str = ""
    ) -> dict[str, int]:
        """Diagnoses per cause since `since`, in the given channels only (never DMs or shortcuts,
        which keep no channel)."""
        wanted = sorted(set(channel_ids))
        if not wanted:
            return {}
        counts: dict[str, int] = {}
        with self._sessions() as session:
            for start in range(0, len(wanted), 500):  # bounded IN lists, however many channels
                rows = session.execute(
                    select(DiagnosisEvent.label, func.count())
                    .where(
                        DiagnosisEvent.team_id == Workspace.of(team).team_id,
                        DiagnosisEvent.created_at >= since,
                        DiagnosisEvent.channel_id.in_(wanted[start : start + 500]),
                    )
                    .group_by(DiagnosisEvent.label)
                )
                for label, count in rows:
                    counts[label] = counts.get(label, 0) + count
        return counts

    def record_feedback(self, label: str, helpful: bool, team: Workspace | str = "") -> None:
        with self.transaction() as session:
            session.add(Feedback(label=label, helpful=helpful, **_ids(team)))

    def record_helpful(self, label: str, key: str, team: Workspace | str = "") -> bool:
        """Count a "Helpful" for `label` unless `key` (who, for which reply; keyed) was counted
        already. True if it was counted now."""
        try:
            with self.transaction() as session:
                session.add(HelpfulVote(key=key, **_ids(team)))
                session.flush()
                session.add(Feedback(label=label, helpful=True, **_ids(team)))
        except IntegrityError:
            return False
        return True

    def add_correction(
        self,
        text: str,
        predicted: str,
        label: str,
        surface: str,
        model_version: str,
        team: Workspace | str = "",
    ) -> int:
        with self.transaction() as session:
            row = Correction(
                text=text,
                predicted=predicted,
                label=label,
                surface=surface,
                model_version=model_version,
                **_ids(team),
            )
            session.add(row)
            session.add(Feedback(label=predicted, helpful=False, **_ids(team)))
            session.flush()
            return row.id

    def corrections(self, team: Workspace | str | None = None) -> list[Correction]:
        """One workspace's corrections (every workspace's when `team` is None)."""
        query = select(Correction).order_by(Correction.id)
        if team is not None:
            query = query.where(Correction.team_id == Workspace.of(team).team_id)
        with self._sessions() as session:
            return list(session.scalars(query))

    def correction_teams(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(Correction.team_id).distinct().order_by(Correction.team_id)))

    # ---- workspaces ---------------------------------------------------------------------------
    def delete_workspace(self, team: Workspace | str) -> dict[str, int]:
        """Remove every row of one workspace (it uninstalled Truce). Returns rows deleted per table."""
        team_id = Workspace.of(team).team_id
        if not team_id:
            raise ValueError("a workspace without a team id cannot be deleted")
        counts: dict[str, int] = {}
        with self.transaction() as session:
            for model in WORKSPACE_TABLES:
                counts[model.__tablename__] = session.execute(
                    delete(model).where(model.team_id == team_id).execution_options(synchronize_session=False)
                ).rowcount
        return counts

    def adopt_unowned(self, team: Workspace | str) -> int:
        """Rows written before Truce knew workspaces (team id '') belong to the one workspace of a
        single-workspace install: give them its team id. Returns how many rows changed."""
        ids = _ids(team)
        if not ids["team_id"]:
            return 0
        changed = 0
        with self.transaction() as session:
            for model in WORKSPACE_TABLES:
                changed += session.execute(
                    update(model)
                    .where(model.team_id == "")
                    .values(**ids)
                    .execution_options(synchronize_session=False)
                ).rowcount
        return changed

    # ---- pulse aggregates for App Home ---------------------------------------------------------
    def pulse_trends(
        self,
        channel_ids: Iterable[str] | None = None,
        weeks: int = 8,
        min_responses: int = 3,
        now: datetime | None = None,
        team: Workspace | str = "",
    ) -> dict[str, list[TrendPoint]]:
        """Closed polls of the last `weeks` weeks with at least `min_responses` answers, oldest first."""
        since = (now or datetime.now(UTC)) - timedelta(weeks=weeks)
        wanted = set(channel_ids) if channel_ids is not None else None
        query = (
            select(
                PulsePoll.channel_id,
                PulsePoll.period_key,
                PulsePoll.closed_at,
                PulsePoll.responses,
                PulsePoll.avg_score,
            )
            .where(
                PulsePoll.team_id == Workspace.of(team).team_id,
                PulsePoll.status == "closed",
                PulsePoll.responses >= min_responses,
                PulsePoll.avg_score.is_not(None),
                PulsePoll.closed_at.is_not(None),
                PulsePoll.closed_at >= since,
            )
            .order_by(PulsePoll.channel_id, PulsePoll.closed_at)
        )
        trends: dict[str, list[TrendPoint]] = {}
        with self._sessions() as session:
            for channel_id, period_key, closed_at, responses, avg_score in session.execute(query):
                if wanted is not None and channel_id not in wanted:
                    continue
                if closed_at.tzinfo is None:  # SQLite hands datetimes back naive
                    closed_at = closed_at.replace(tzinfo=UTC)
                trends.setdefault(channel_id, []).append(
                    TrendPoint(period_key, closed_at, responses, float(avg_score))
                )
        return {channel: points[-weeks:] for channel, points in trends.items()}

    def pulse_channels(
        self, channel_ids: Iterable[str] | None = None, team: Workspace | str = ""
    ) -> list[PulseChannel]:
        """One workspace's pulse settings, for the given channels only when asked."""
        wanted = set(channel_ids) if channel_ids is not None else None
        query = (
            select(PulseChannel)
            .where(PulseChannel.team_id == Workspace.of(team).team_id)
            .order_by(PulseChannel.channel_id)
        )
        with self._sessions() as session:
            rows = list(session.scalars(query))
        return [row for row in rows if wanted is None or row.channel_id in wanted]
