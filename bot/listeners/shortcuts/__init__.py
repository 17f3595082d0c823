from slack_bolt import App

from bot import ids
from bot.deps import Deps
from bot.listeners.shortcuts import diagnose


def register(app: App, deps: Deps) -> None:
    app.message_shortcut(ids.DIAGNOSE_SHORTCUT)(diagnose.handler(deps))
