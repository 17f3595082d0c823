from slack_bolt import App

from bot.deps import Deps
from bot.listeners.events import app_home, app_mention, direct_message, leaving, membership


def _acknowledge() -> None:
    """Events are acknowledged by Bolt itself; the answer is the lazy function's work."""


def register(app: App, deps: Deps) -> None:
    # Answers are lazy listeners: behind `python -m bot serve` they run in an answer process
    # (bot/answer_worker.py), so the web process only acknowledges; elsewhere on Bolt's threads.
    app.event("app_mention")(ack=_acknowledge, lazy=[app_mention.handler(deps)])
    # message.im (the Messages tab); other message events (edits, deletions, bots) are acknowledged and ignored
    app.event("message", matchers=[direct_message.is_for_truce])(
        ack=_acknowledge, lazy=[direct_message.handler(deps)]
    )
    app.event("app_home_opened")(app_home.handler(deps))
    app.event("member_joined_channel")(membership.joined(deps))
    app.event("channel_left")(membership.left(deps))
    app.event("group_left")(membership.left(deps))
    app.event("app_uninstalled")(leaving.uninstalled(deps))
    app.event("tokens_revoked")(leaving.tokens_revoked(deps))
