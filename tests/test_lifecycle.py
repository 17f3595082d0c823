"""Start-up, configuration errors, the offline console and a graceful stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, server_env, start_web_server
from tests.slack import mention_event, post_signed_json


def run_bot(args: list[str], env: dict[str, str], cwd, stdin: str = "", timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "override, named",
    [
        ({"SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET"),
        ({"PORT": "eighty"}, "PORT"),
        ({"DATABASE_URL": "mysql://db/truce"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/truce"}, "DATABASE_URL"),
        ({"SLACK_API_URL": "slack.com"}, "SLACK_API_URL"),
        ({"TRUCE_TIMEZONE": "Mars/Olympus_Mons"}, "TRUCE_TIMEZONE"),
        ({"TRUCE_PULSE_MIN_RESPONSES": "2"}, "TRUCE_PULSE_MIN_RESPONSES"),
        ({"TRUCE_PULSE_KEY": "short"}, "TRUCE_PULSE_KEY"),
        ({"TRUCE_MODEL_PATH": "/nonexistent/model.npz"}, "python -m model train"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(fake_slack, tmp_path, artifact, override, named):
    env = server_env(fake_slack, f"sqlite:///{tmp_path / 't.db'}", artifact, PORT="3999")
    env.update(override)
    result = run_bot(["serve"], env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr


def test_a_token_slack_refuses_stops_start_up_with_one_line(fake_slack, tmp_path, artifact):
    fake_slack.fault = lambda method, params, attempt: (
        (200, {}, {"ok": False, "error": "invalid_auth"}) if method == "auth.test" else None
    )
    env = server_env(fake_slack, f"sqlite:///{tmp_path / 't.db'}", artifact, PORT="3999")
    result = run_bot(["serve"], env, tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN was refused by Slack (invalid_auth)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_without_credentials_the_run_command_opens_the_console(tmp_path, artifact):
    env = {
        k: v
        for k, v in server_env.__globals__["os"].environ.items()
        if not k.startswith(("SLACK_", "TRUCE_"))
    }
    env.update(TRUCE_MODEL_PATH=str(artifact), PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    stdin = (
        "the MQLs from the webinar are junk and nobody in marketing will admit it\n"
        ":click 1\n"  # Helpful
        "\n"
        "/nope\n"
        ":thread\n"
        "who is supposed to update the battlecards?\n"
        "I thought product marketing owned them, sales ops says it's enablement\n"
        "so nobody owns them and they're 8 months old. whose job is this\n"
        "@Truce can you help here?\n"
        ":end\n"
        ":dm the leads marketing sends are junk, students and gmail addresses\n"
        ":quit\n"
    )
    result = run_bot([], env, tmp_path, stdin=stdin)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "offline console" in out
    assert "Truce posted in the thread" in out
    assert "lead" in out.lower() and "What to try this week".upper() in out.upper()
    assert "[1] :thumbsup: Helpful" in out and "Thanks" in out  # the button was pressed and answered
    assert "Mention me" in out  # the empty line got the help text
    assert "no command /nope" in out and "Unhandled request" not in result.stderr
    assert "/remedy role_confusion" in out and "messages here are about who owns what" in out
    assert out.count("Truce posted") >= 4
    # The console keeps its own database; the production default is never written.
    assert (tmp_path / "data" / "console.db").is_file()
    assert not (tmp_path / "data" / "truce.db").exists()


def test_sigterm_finishes_in_flight_work_and_exits_within_10_seconds(module_fake_slack, tmp_path, artifact):
    server = start_web_server(module_fake_slack, tmp_path, artifact)
    module_fake_slack.reset()

    def slow_post(method, params, attempt):
        if method == "chat.postMessage":
            time.sleep(2)
        return None

    module_fake_slack.fault = slow_post
    try:
        reply = post_signed_json(
            server.events_url, mention_event("sales and marketing fight about credit for Acme")
        )
        assert reply.status == 200
        time.sleep(0.3)  # the reply is now being posted, slowly
        started = time.time()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=15)
        took = time.time() - started
    finally:
        module_fake_slack.fault = None
        server.stop()
    assert code == 0, server.logs()
    assert took < 10
    assert len(module_fake_slack.calls_to("chat.postMessage")) == 1, "in-flight reply was lost"
