from slack_bolt import App

from bot import ids
from bot.deps import Deps
from bot.listeners.commands import pulse, remedy


def register(app: App, deps: Deps) -> None:
    app.command(ids.REMEDY_COMMAND)(remedy.handler(deps))
    app.command(ids.PULSE_COMMAND)(pulse.handler(deps))
