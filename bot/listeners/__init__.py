"""Listeners grouped by kind; each kind has register(app, deps)."""

from slack_bolt import App

from bot.deps import Deps
from bot.listeners import actions, commands, events, shortcuts


def register_listeners(app: App, deps: Deps) -> None:
    events.register(app, deps)
    commands.register(app, deps)
    actions.register(app, deps)
    shortcuts.register(app, deps)
