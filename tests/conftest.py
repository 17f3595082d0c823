"""Shared fixtures: a real trained model, a loopback fake of Slack's Web API, the real app and server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.app import create_app
from bot.deps import build_deps
from bot.fakeslack import FakeSlack
from bot.settings import Settings
from model.predict import DEFAULT_ARTIFACT, Classifier
from tests.slack import BOT_TOKEN, PULSE_KEY, SIGNING_SECRET

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def artifact(tmp_path_factory) -> Path:
    """The real model: the project's artifact when it matches the data, else trained once for the run."""
    from model.train import is_current, train

    if is_current(DEFAULT_ARTIFACT):
        return DEFAULT_ARTIFACT
    out = tmp_path_factory.mktemp("model") / "classifier.npz"
    train(out=out, progress=lambda line: None)
    return out


@pytest.fixture(scope="session")
def classifier(artifact) -> Classifier:
    return Classifier.load(artifact)


@pytest.fixture
def fake_slack():
    with FakeSlack() as fake:
        yield fake


def make_settings(fake: FakeSlack, db_url: str, artifact: Path, **overrides) -> Settings:
    base = Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        api_url=fake.api_url,
        database_url=db_url,
        model_path=artifact,
        pulse_hash_key=PULSE_KEY,
    )
    return replace(base, **overrides)


@pytest.fixture
def settings(fake_slack, tmp_path, artifact) -> Settings:
    return make_settings(fake_slack, f"sqlite:///{tmp_path / 'truce.db'}", artifact)


@pytest.fixture
def deps(settings, classifier):
    return build_deps(settings, classifier=classifier)


@pytest.fixture
def app(settings, deps):
    """The real Bolt app, listeners run before the response so handler tests are deterministic."""
    return create_app(settings, deps, process_before_response=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class WebServer:
    process: subprocess.Popen
    url: str
    log_path: Path
    db_url: str

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = 15, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def server_env(fake: FakeSlack, db_url: str, artifact: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TRUCE_", "DATABASE_URL"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            "DATABASE_URL": db_url,
            "TRUCE_MODEL_PATH": str(artifact),
            "TRUCE_PULSE_KEY": PULSE_KEY,
            "PYTHONPATH": str(ROOT),
            **extra,  # may override the above (SLACK_BOT_TOKEN="" for an "Add to Slack" app)
        }
    )
    return env


def wait_until(check, timeout: float = 10.0):
    """Poll `check` until it returns something truthy (returned) or `timeout` seconds pass."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    return check()


def start_web_server(
    fake: FakeSlack, workdir: Path, artifact: Path, db_url: str | None = None, **env
) -> WebServer:
    """`python -m bot serve` — the production server and all — on an ephemeral loopback port."""
    port = free_port()
    db_url = db_url or f"sqlite:///{workdir / 'truce.db'}"
    log_path = workdir / f"web-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"],
        cwd=workdir,
        env=server_env(fake, db_url, artifact, PORT=str(port), **env),
        stdout=open(log_path, "w"),  # noqa: SIM115 - the file lives as long as the process
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    server = WebServer(process, f"http://127.0.0.1:{port}", log_path, db_url)
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"web server exited with {process.returncode}:\n{server.logs()}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"web server did not become healthy:\n{server.logs()}")


@pytest.fixture(scope="module")
def module_fake_slack():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="module")
def web(module_fake_slack, tmp_path_factory, artifact):
    """The real `web` process for a whole test module; `module_fake_slack` records its Web API calls."""
    server = start_web_server(module_fake_slack, tmp_path_factory.mktemp("web"), artifact)
    yield server
    server.stop()


@pytest.fixture
def slack_api(module_fake_slack):
    """The module's fake Web API, emptied for this test."""
    module_fake_slack.reset()
    module_fake_slack.fault = None
    return module_fake_slack
