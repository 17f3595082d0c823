"""Closing a poll erases the keyed hashes for real: not in a copy of the database files, not in the
order of the rows. On SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.app import make_client
from bot.presenters.pulse import PulseService
from bot.services.aggregation import voter_hash
from bot.storage.db import connect
from bot.storage.pulse_repository import PulseRepository
from model.playbook import load_playbook
from tests.conftest import make_settings
from tests.pg import BACKENDS, database_url
from tests.slack import PULSE_KEY

CHANNEL = "C0ERASE001"
CAUSES = [
    "lead_quality",
    "credit_dispute",
    "pricing_dispute",
    "blame_game",
    "role_confusion",
    "budget_competition",
    "nothing",
]


@pytest.fixture(params=BACKENDS)
def pulse(request, tmp_path, fake_slack, artifact):
    url = database_url(request.param, tmp_path)
    settings = make_settings(fake_slack, url, artifact)
    sessions = connect(url)
    service = PulseService(settings, PulseRepository(sessions), make_client(settings), load_playbook())
    yield service
    sessions.kw["bind"].dispose()


def open_poll(service: PulseService):
    service.repo.opt_in(CHANNEL, "T0TRUCE01", 0, "10:00", "UTC", datetime.now(UTC) - timedelta(days=30))
    assert service.send_now([CHANNEL]).ok
    (poll,) = service.repo.polls(["open"], [CHANNEL])
    return poll


def vote_in_order(service: PulseService, poll, n: int) -> list[tuple[int, str]]:
    """n people answer one after the other, each with a different (score, cause); each changes their
    score once, so old row versions exist too. Returns the answers in the order of first clicks."""
    where = {"channel_id": poll.channel_id, "message_ts": poll.message_ts}
    order = []
    for i in range(n):
        user = f"U0ERASE{i:03d}"
        answer = (i % 5 + 1, CAUSES[i % len(CAUSES)])
        service.vote(poll.id, user, "score", 5 - i % 5, **where)
        service.vote(poll.id, user, "cause", answer[1], **where)
        service.vote(poll.id, user, "score", answer[0], **where)
        order.append(answer)
    return order


def database_bytes(service: PulseService) -> bytes:
    """What someone who copies the database's files would get."""
    engine = service.repo._sessions.kw["bind"]
    if engine.dialect.name == "sqlite":
        path = Path(make_url(engine.url).database)
        copied = b""
        for suffix in ("", "-wal"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                target = path.parent / f"copy{suffix}"
                shutil.copyfile(source, target)
                copied += target.read_bytes()
        return copied
    # PostgreSQL: the table's and its indexes' files on disk, after the buffers were written out.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
        relations = conn.execute(
            text(
                "SELECT 'pulse_responses'::regclass::oid UNION "
                "SELECT indexrelid FROM pg_index WHERE indrelid = 'pulse_responses'::regclass"
            )
        ).scalars()
        return b"".join(
            conn.execute(
                text("SELECT pg_read_binary_file(pg_relation_filepath(:oid))"), {"oid": oid}
            ).scalar()
            for oid in list(relations)
        )


def test_after_close_a_copy_of_the_database_holds_no_voter_hash(pulse):
    poll = open_poll(pulse)
    vote_in_order(pulse, poll, 12)
    hashes = [voter_hash(PULSE_KEY, poll.id, f"U0ERASE{i:03d}").encode() for i in range(12)]
    before = database_bytes(pulse)
    assert any(h in before for h in hashes), "the check can see a hash while the poll is open"

    assert pulse.close_due(datetime.now(UTC), channel_ids=[CHANNEL], force=True).ok

    after = database_bytes(pulse)
    engine = pulse.repo._sessions.kw["bind"]
    if engine.dialect.name == "sqlite":  # whatever the library's compiled-in default
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    assert [h for h in hashes if h in after] == []
    assert [h[:16] for h in hashes if h[:16] in after] == []  # not even a recognisable part
    results = pulse.repo.latest_closed(CHANNEL)
    assert results.responses == 12  # the aggregates survive the erase


def test_rows_do_not_keep_the_order_of_first_clicks(pulse):
    poll = open_poll(pulse)
    clicked = vote_in_order(pulse, poll, 12)
    assert pulse.close_due(datetime.now(UTC), channel_ids=[CHANNEL], force=True).ok

    engine = pulse.repo._sessions.kw["bind"]
    with engine.connect() as conn:
        by_id = conn.execute(text("SELECT score, cause FROM pulse_responses ORDER BY id")).all()
        assert sorted(map(tuple, by_id)) == sorted(clicked)
        assert list(map(tuple, by_id)) != clicked
        if engine.dialect.name == "postgresql":  # where the rows sit in the table's file
            stored = conn.execute(text("SELECT score, cause FROM pulse_responses ORDER BY ctid")).all()
            assert list(map(tuple, stored)) != clicked
        else:  # SQLite: no hidden rowid counting up either
            with pytest.raises(OperationalError):
                conn.execute(text("SELECT rowid FROM pulse_responses"))
