"""python -m bot [run|serve|socket|console|clock|pulse ...|checkins send|close|feedback export]

`run` (the default) picks the mode from the configuration: the offline console without Slack
credentials, Socket Mode with SLACK_APP_TOKEN, otherwise the HTTP server.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace

from bot.settings import ConfigError, Settings, load_settings
from bot.storage.db import DatabaseError
from model.predict import ModelError

logger = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Truce, the Sales–Marketing peace-keeper"
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="start in the mode the configuration implies (default)")
    serve = sub.add_parser("serve", help="HTTP mode on $PORT, served by waitress (production)")
    serve.add_argument("--host", default="0.0.0.0")
    answers = sub.add_parser(
        "answers", help=argparse.SUPPRESS
    )  # started by `serve`: see bot/answer_worker.py
    answers.add_argument("--ready-fd", type=int, required=True)
    sub.add_parser("socket", help="Socket Mode (needs SLACK_APP_TOKEN)")
    sub.add_parser("console", help="the offline console, whatever the configuration")
    sub.add_parser("clock", help="the one scheduler process (pulse polls, experiment check-ins)")
    pulse = sub.add_parser("pulse", help="run pulse jobs by hand, exactly as the scheduler does")
    pulse.add_argument("action", choices=["send", "close", "remind", "export"])
    pulse.add_argument("--channel", action="append", help="only this channel id (repeatable)")
    pulse.add_argument("--out", default="-", help="export: CSV file, '-' for stdout (default)")
    pulse.add_argument("--team", help="only this workspace (team id); export needs it when there are several")
    checkins = sub.add_parser(
        "checkins", help="experiment check-ins by hand, right away, as the scheduler does"
    )
    checkins.add_argument("action", choices=["send", "close"])
    checkins.add_argument("--channel", action="append", help="only this channel id (repeatable)")
    checkins.add_argument("--team", help="only this workspace (team id)")
    db = sub.add_parser("db", help="the database schema")
    db.add_argument(
        "action", choices=["upgrade"], help="apply pending migrations (web and clock also do on start)"
    )
    feedback = sub.add_parser("feedback", help="users' corrections")
    feedback.add_argument("action", choices=["export"])
    feedback.add_argument("--out", default="data/feedback.jsonl", help="JSON-lines file, '-' for stdout")
    feedback.add_argument(
        "--team", help="the workspace (team id) whose corrections to export; needed when there are several"
    )
    return parser


def _require_slack(settings: Settings, what: str) -> None:
    if settings.mode == "console":
        raise ConfigError(
            f"SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET) is missing: {what} needs Slack "
            "credentials (see README, 'Create the Slack app')"
        )


def _console(settings: Settings) -> int:
    from bot.console import Console
    from bot.deps import build_deps
    from bot.logs import configure_logging

    configure_logging("WARNING")
    settings = replace(settings, database_url=settings.console_database_url)
    deps = build_deps(settings)
    console = Console(settings, deps)
    try:
        return console.run()
    finally:
        console.close()


def _serve(settings: Settings, host: str) -> int:
    from bot.server import TruceServer, preflight

    _require_slack(settings, "the HTTP server")
    if not settings.signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is missing: the HTTP server needs it to verify Slack's requests"
        )
    preflight(settings)
    TruceServer(settings, host=host).run()
    return 0


def _answers(settings: Settings, ready_fd: int) -> int:
    from bot.answer_worker import serve_answers

    return serve_answers(settings, sys.stdin.buffer, ready_fd)


def _socket(settings: Settings) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import create_app
    from bot.deps import build_deps
    from bot.logs import configure_logging

    _require_slack(settings, "Socket Mode")
    if not settings.app_token:
        raise ConfigError(
            "SLACK_APP_TOKEN is missing: Socket Mode needs an app-level token (connections:write)"
        )
    configure_logging(settings.log_level, secrets=settings.log_secrets)
    deps = build_deps(settings)
    SocketModeHandler(create_app(settings, deps), settings.app_token).start()
    return 0


def _clock(settings: Settings) -> int:
    from bot.scheduler import run_clock

    _require_slack(settings, "the scheduler")
    return run_clock(settings)


def _pulse(settings: Settings, action: str, channels: list[str] | None, out: str, team: str | None) -> int:
    from bot.scheduler import build_pulse_service, run_pulse_job

    if action == "export":
        from bot.services.pulse_export import export_results
        from bot.storage.db import connect
        from bot.storage.pulse_repository import PulseRepository

        sessions = connect(settings.database_url)
        if team is None:
            teams = PulseRepository(sessions).teams()
            if len(teams) > 1:
                raise ConfigError(
                    f"pulse results from {len(teams)} workspaces ({', '.join(t or '(none)' for t in teams)}): "
                    "name one with --team"
                )
            team = teams[0] if teams else ""
        count = export_results(build_pulse_service(settings, sessions, team), out, channels)
        print(f"exported the results of {count} closed polls", file=sys.stderr)
        return 0
    _require_slack(settings, "posting polls")
    return run_pulse_job(settings, action, channels, team)


def _checkins(settings: Settings, action: str, channels: list[str] | None, team: str | None) -> int:
    from bot.scheduler import run_checkins_job

    _require_slack(settings, "posting check-ins")
    return run_checkins_job(settings, action, channels, team)


def _feedback(settings: Settings, out: str, team: str | None) -> int:
    from bot.services.feedback import WhichWorkspace, export_corrections
    from bot.storage.db import connect
    from bot.storage.repository import Repository

    try:
        count = export_corrections(Repository(connect(settings.database_url)), out, team)
    except WhichWorkspace as exc:
        raise ConfigError(str(exc)) from None
    print(f"exported {count} corrections to {out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    try:
        settings = load_settings()
        if command == "run":
            command = {"console": "console", "socket": "socket", "http": "serve"}[settings.mode]
            args.host = "0.0.0.0"
        if command == "console":
            return _console(settings)
        if command == "serve":
            return _serve(settings, args.host)
        if command == "answers":
            return _answers(settings, args.ready_fd)
        if command == "socket":
            return _socket(settings)
        if command == "clock":
            return _clock(settings)
        if command == "pulse":
            return _pulse(settings, args.action, args.channel, args.out, args.team)
        if command == "checkins":
            return _checkins(settings, args.action, args.channel, args.team)
        if command == "db":
            from bot.storage.db import connect

            connect(settings.database_url).kw["bind"].dispose()  # applies pending migrations
            print("database schema is up to date", file=sys.stderr)
            return 0
        if command == "feedback":
            return _feedback(settings, args.out, args.team)
    except (ConfigError, ModelError, DatabaseError) as exc:
        print(f"truce: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
