"""Configuration: one reader, clear errors, secrets never printed."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, load_settings

SLACK = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "s3cret", "TRUCE_PULSE_KEY": "k" * 32}


def test_no_credentials_means_the_offline_console():
    settings = load_settings({})
    assert settings.mode == "console"
    assert settings.database_url == "sqlite:///data/truce.db"
    assert settings.api_url == "https://slack.com/api/"
    assert settings.port == 3000


def test_mode_follows_the_tokens():
    assert load_settings(SLACK).mode == "http"
    assert load_settings({**SLACK, "SLACK_APP_TOKEN": "xapp-1-A1-x"}).mode == "socket"


def test_dotenv_file_is_read_without_overriding_the_environment(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_SIGNING_SECRET=from-file\nPORT=4100\n"
        f"TRUCE_PULSE_KEY={'k' * 20}\n"
    )
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "TRUCE_PULSE_KEY",
        "DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORT", "4200")
    settings = load_settings(dotenv=env_file)
    assert settings.bot_token == "xoxb-from-file"
    assert settings.port == 4200  # the real environment wins


def test_platform_postgres_urls_are_normalised():
    assert (
        load_settings({"DATABASE_URL": "postgres://u:p@h/db"}).database_url == "postgresql+psycopg://u:p@h/db"
    )


def test_api_url_gets_a_trailing_slash():
    assert load_settings({"SLACK_API_URL": "http://127.0.0.1:9/api"}).api_url == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize(
    "env, named",
    [
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN"),
        ({**SLACK, "TRUCE_PULSE_CLOSE_AFTER_DAYS": "soon"}, "TRUCE_PULSE_CLOSE_AFTER_DAYS"),
        ({**SLACK, "TRUCE_PULSE_DAY": "someday"}, "TRUCE_PULSE_DAY"),
        ({**SLACK, "TRUCE_PULSE_TIME": "25:00"}, "TRUCE_PULSE_TIME"),
        ({**SLACK, "SLACK_API_TIMEOUT": "0"}, "SLACK_API_TIMEOUT"),
        ({**SLACK, "TRUCE_TIMEZONE": "America"}, "TRUCE_TIMEZONE"),  # a folder of the zone database
        ({**SLACK, "WEB_ANSWER_PROCESSES": "many"}, "WEB_ANSWER_PROCESSES"),
        ({**SLACK, "WEB_ANSWER_PROCESSES": "9"}, "WEB_ANSWER_PROCESSES"),
    ],
)
def test_each_problem_names_its_variable_on_one_line(env, named):
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    assert named in str(error.value)
    assert "\n" not in str(error.value)


def test_repr_never_shows_secrets():
    settings = load_settings({**SLACK, "DATABASE_URL": "postgresql://u:hunter2@db/truce"})
    shown = repr(settings) + str(settings)
    assert "xoxb-1-2-abc" not in shown and "s3cret" not in shown and "hunter2" not in shown
