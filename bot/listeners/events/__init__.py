from slack_bolt import App

from bot.deps import Deps
from bot.listeners.events import app_mention


def register(app: App, deps: Deps) -> None:
    app.event("app_mention")(app_mention.handler(deps))
