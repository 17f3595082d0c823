"""Installs from many workspaces ("Add to Slack"): bolt-python's OAuth flow with slack_sdk's
SQLAlchemy installation and state stores, on the same database as everything else.

Every Web API call the flow makes (oauth.v2.access, auth.test, token refreshes) goes through the
client it is given, whose base URL is SLACK_API_URL.
"""

from __future__ import annotations

import logging

from slack_bolt import BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import Engine, select

from bot.client import make_client
from bot.settings import Settings
from bot.storage.models import BOTS
from bot.storage.repository import Repository
from bot.storage.workspace import Workspace
from bot.views.install import install_failure_page, install_page, install_success_page

logger = logging.getLogger(__name__)

STATE_SECONDS = 600  # an install link is good for 10 minutes
# Refresh a rotating bot token this long before it expires (Bolt's default is 120).
ROTATE_MINUTES_BEFORE = 120
HTML = {"Content-Type": "text/html; charset=utf-8"}


def installation_store(settings: Settings, engine: Engine) -> SQLAlchemyInstallationStore:
    """The installations table (created by migration 0003, not by create_tables)."""
    return SQLAlchemyInstallationStore(client_id=settings.client_id or "", engine=engine, logger=logger)


def _success(args: SuccessArgs) -> BoltResponse:
    installation = args.installation
    logger.info(
        "installed in workspace %s%s",
        installation.team_id or "-",
        f" (enterprise {installation.enterprise_id})" if installation.enterprise_id else "",
    )
    app_link = None
    if installation.team_id and installation.app_id:
        app_link = f"https://slack.com/app_redirect?app={installation.app_id}&team={installation.team_id}"
    headers = {**HTML, "Set-Cookie": [args.settings.state_utils.build_set_cookie_for_deletion()]}
    return BoltResponse(
        status=200, body=install_success_page(installation.team_name, app_link), headers=headers
    )


def _failure(args: FailureArgs) -> BoltResponse:
    logger.warning(
        "an install did not complete (%s%s)",
        args.reason,
        f", {type(args.error).__name__}" if args.error else "",
    )
    headers = {**HTML, "Set-Cookie": [args.settings.state_utils.build_set_cookie_for_deletion()]}
    status = args.suggested_status_code if args.suggested_status_code < 500 else 500
    return BoltResponse(status=status, body=install_failure_page(args.reason), headers=headers)


class TruceOAuthFlow(OAuthFlow):
    def build_install_page_html(self, url: str, request) -> str:  # Bolt's hook for the install page
        return install_page(url)


def oauth_flow(settings: Settings, store: SQLAlchemyInstallationStore, client: WebClient) -> TruceOAuthFlow:
    """Bolt's OAuth flow for `settings` (which must have client id and secret)."""
    engine = store.engine
    oauth = OAuthSettings(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scopes=list(settings.scopes),
        installation_store=store,
        installation_store_bot_only=True,
        state_store=SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine, logger=logger),
        state_expiration_seconds=STATE_SECONDS,
        token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE,
        callback_options=CallbackOptions(success=_success, failure=_failure),
        logger=logger,
    )
    # OAuthSettings builds its authorize with a default WebClient (slack.com) for token refreshes;
    # ours refreshes through SLACK_API_URL, and caches auth.test per token.
    oauth.authorize = InstallationStoreAuthorize(
        logger=logger,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        installation_store=store,
        token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE,
        bot_only=True,
        cache_enabled=True,
        client=client,
    )
    return TruceOAuthFlow(client=client, settings=oauth, logger=logger)


class Workspaces:
    """Where the clock finds the workspaces and each one's bot token: the installation store (with
    token rotation) for an "Add to Slack" app, or auth.test and SLACK_BOT_TOKEN for one workspace."""

    def __init__(self, settings: Settings, sessions):
        self.settings = settings
        self.sessions = sessions
        self._single: Workspace | None = None
        self.store = None
        self.rotator = None
        if settings.oauth:
            self.store = installation_store(settings, sessions.kw["bind"])
            self.rotator = TokenRotator(
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                client=make_client(settings),  # refreshes go through SLACK_API_URL too
            )

    def single(self) -> Workspace:
        """The one workspace of SLACK_BOT_TOKEN (auth.test, once); rows from before Truce knew
        workspaces become its own."""
        if self._single is None:
            found = make_client(self.settings).auth_test()
            self._single = Workspace(found.get("team_id") or "", found.get("enterprise_id") or None)
            adopted = Repository(self.sessions).adopt_unowned(self._single)
            if adopted:
                logger.info("%d rows from before workspaces were given team %s", adopted, self._single)
        return self._single

    def installed(self) -> list[Workspace]:
        if self.store is None:
            return [self.single()]
        query = (
            select(BOTS.c.team_id, BOTS.c.enterprise_id)
            .where(BOTS.c.client_id == self.settings.client_id, BOTS.c.bot_token.is_not(None))
            .distinct()
        )
        with self.sessions() as session:
            return sorted(
                {Workspace(team or "", enterprise) for team, enterprise in session.execute(query)},
                key=lambda w: w.team_id,
            )

    def token(self, workspace: Workspace) -> str | None:
        """The workspace's bot token, refreshed first when it rotates and expires soon; None when it
        is not installed (any more)."""
        if self.store is None:
            return self.settings.bot_token if workspace.team_id == self.single().team_id else None
        bot = self.store.find_bot(enterprise_id=workspace.enterprise_id, team_id=workspace.team_id or None)
        if bot is None:
            return None
        if bot.bot_refresh_token:
            refreshed = self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=ROTATE_MINUTES_BEFORE
            )
            if refreshed is not None:
                self.store.save_bot(refreshed)
                bot = refreshed
        return bot.bot_token
