"""app_uninstalled / tokens_revoked: the workspace's installation and data go; later events from it are
acknowledged and ignored (Bolt finds no installation and answers 200)."""

from __future__ import annotations

import logging

from bot.deps import Deps
from bot.services.workspaces import forget_users, forget_workspace
from bot.storage.workspace import Workspace


def _forget(deps: Deps, workspace: Workspace, why: str, logger: logging.Logger) -> None:
    if not workspace.team_id:
        logger.warning("%s without a team id; nothing deleted", why)
        return
    try:
        counts = forget_workspace(deps.repo, deps.installations, workspace)
    except Exception:
        logger.exception("could not delete the data of workspace %s after %s", workspace, why)
        return
    logger.info(
        "workspace %s: %s; deleted its installation and %d rows (%s)",
        workspace,
        why,
        sum(counts.values()),
        ", ".join(f"{table} {n}" for table, n in counts.items() if n) or "no data",
    )


def uninstalled(deps: Deps):
    def handle_app_uninstalled(context, logger: logging.Logger) -> None:
        _forget(deps, Workspace.from_context(context), "app uninstalled", logger)

    return handle_app_uninstalled


def tokens_revoked(deps: Deps):
    def handle_tokens_revoked(event: dict, context, logger: logging.Logger) -> None:
        workspace = Workspace.from_context(context)
        tokens = event.get("tokens") or {}
        if tokens.get("bot"):
            _forget(deps, workspace, "bot token revoked", logger)
            return
        users = [u for u in tokens.get("oauth") or [] if isinstance(u, str)]
        try:
            forget_users(deps.installations, workspace, users)
        except Exception:
            logger.exception("could not delete revoked user installations of workspace %s", workspace)

    return handle_tokens_revoked
