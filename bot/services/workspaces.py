"""A workspace leaves: its installation and every row of its data are removed."""

from __future__ import annotations

from slack_sdk.oauth.installation_store import InstallationStore

from bot.storage.repository import Repository
from bot.storage.workspace import Workspace


def forget_workspace(
    repo: Repository, store: InstallationStore | None, workspace: Workspace
) -> dict[str, int]:
    """Delete the workspace's installation (bot and installer rows) and its data. Returns the number of
    rows deleted per table (no tokens, no text: safe to log)."""
    if store is not None:
        store.delete_all(enterprise_id=workspace.enterprise_id, team_id=workspace.team_id)
    return repo.delete_workspace(workspace)


def forget_users(store: InstallationStore | None, workspace: Workspace, user_ids: list[str]) -> None:
    """Only some people's user tokens were revoked: drop their installation rows, keep the workspace."""
    if store is None:
        return
    for user_id in user_ids:
        store.delete_installation(
            enterprise_id=workspace.enterprise_id, team_id=workspace.team_id, user_id=user_id
        )
