"""Scale out as the Procfile does: two `web` and two `clock` processes (real subprocesses) on one
PostgreSQL server, with installs, events and Slack's retries landing on either web. Every mention is
answered once and every channel gets one poll per week."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from bot.fakeslack import FakeSlack
from bot.storage.db import connect
from bot.storage.models import PulseChannel
from tests.conftest import server_env, start_web_server
from tests.pg import fresh_database
from tests.slack import post_signed_json
from tests.test_workspaces import get, mention, oauth_env, posts, wait_until

pytestmark = pytest.mark.postgres
RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


def install_across(first, second, workspace) -> None:
    """The install page from one web, the redirect back onto the other (the state lives in the database)."""
    import re
    from html import unescape
    from urllib.parse import parse_qs, urlparse

    page = get(first.url + "/slack/install")
    link = unescape(re.search(r'href="([^"]+)"', page.body).group(1))
    state = parse_qs(urlparse(link).query)["state"][0]
    cookie = page.headers["Set-Cookie"].split(";")[0]
    done = get(
        second.url + "/slack/oauth_redirect?" + urlencode({"code": workspace.code, "state": state}), cookie
    )
    assert done.status == 200 and "Truce is installed" in done.body, done.body


def test_two_webs_and_two_clocks_on_one_postgres(tmp_path, artifact):
    server = os.environ.get("TRUCE_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("TRUCE_TEST_POSTGRES_URL is not set (.ci/run starts a server and sets it)")
    db_url = fresh_database(server)
    with FakeSlack() as fake:
        webs = []
        clocks = []
        try:
            for n in range(2):
                workdir = tmp_path / f"web{n}"
                workdir.mkdir()
                webs.append(start_web_server(fake, workdir, artifact, db_url=db_url, **oauth_env(fake)))
            acme = fake.add_workspace("T0PGACME01", "Acme")
            globex = fake.add_workspace("T0PGGLOBX1", "Globex")
            install_across(webs[0], webs[1], acme)
            install_across(webs[1], webs[0], globex)

            # Each mention lands on one web and Slack's retry of it on the other.
            for n, (team, channel) in enumerate((("T0PGACME01", "C0PGACME01"), ("T0PGGLOBX1", "C0PGGLOBX1"))):
                body = mention(team, channel)
                assert post_signed_json(webs[n].events_url, body).status == 200
                assert post_signed_json(webs[1 - n].events_url, body, headers=RETRY).status == 200

            # Two clocks over the same database, one channel per workspace due a minute ago.
            now = datetime.now(UTC)
            run = now - timedelta(minutes=1)
            sessions = connect(db_url)
            with sessions.begin() as session:
                for workspace, channel in ((acme, "C0PGPULSE1"), (globex, "C0PGPULSE2")):
                    session.add(
                        PulseChannel(
                            team_id=workspace.team_id,
                            channel_id=channel,
                            weekday=run.weekday(),
                            time=f"{run:%H:%M}",
                            timezone="UTC",
                            active_since=now - timedelta(days=8),
                        )
                    )
            sessions.kw["bind"].dispose()
            for n in range(2):
                log = open(tmp_path / f"clock{n}.log", "w")  # noqa: SIM115 - lives as long as the process
                clocks.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "bot", "clock"],
                        cwd=tmp_path,
                        env=server_env(fake, db_url, artifact, **oauth_env(fake)),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                )
            assert wait_until(lambda: posts(fake, "C0PGPULSE1") and posts(fake, "C0PGPULSE2"), timeout=60)
            assert wait_until(lambda: posts(fake, "C0PGACME01") and posts(fake, "C0PGGLOBX1"), timeout=20)
            time.sleep(3)  # time for a duplicate to show up, if there were going to be one

            for channel, workspace in (
                ("C0PGACME01", acme),
                ("C0PGGLOBX1", globex),
                ("C0PGPULSE1", acme),
                ("C0PGPULSE2", globex),
            ):
                sent = posts(fake, channel)
                assert len(sent) == 1, f"{channel}: {len(sent)} posts"
                assert sent[0].params["_token"] == workspace.token
            assert all(clock.poll() is None for clock in clocks)
            assert all(web.process.poll() is None for web in webs)
        finally:
            for clock in clocks:
                clock.terminate()
                try:
                    clock.wait(15)
                except subprocess.TimeoutExpired:
                    clock.kill()
            for web in webs:
                web.stop()
        assert [clock.returncode for clock in clocks] == [0, 0]
