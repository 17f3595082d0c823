from slack_bolt import App

from bot.deps import Deps
from bot.listeners.events import app_home, app_mention, direct_message, leaving, membership


def register(app: App, deps: Deps) -> None:
    app.event("app_mention")(app_mention.handler(deps))
    # message.im (the Messages tab); other message events (edits, deletions, bots) are acknowledged and ignored
    app.event("message")(direct_message.handler(deps))
    app.event("app_home_opened")(app_home.handler(deps))
    app.event("member_joined_channel")(membership.joined(deps))
    app.event("channel_left")(membership.left(deps))
    app.event("group_left")(membership.left(deps))
    app.event("app_uninstalled")(leaving.uninstalled(deps))
    app.event("tokens_revoked")(leaving.tokens_revoked(deps))
