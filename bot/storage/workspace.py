"""Which workspace a row, a request or a job belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Workspace:
    """A workspace's team id, and its enterprise id when it is part of an Enterprise Grid org.

    Rows are told apart by team id (Slack's team ids are unique across enterprises); the enterprise
    id is kept beside it so that an org's data can be found and removed as a whole."""

    team_id: str
    enterprise_id: str | None = None

    @classmethod
    def of(cls, team: Workspace | str | None) -> Workspace:
        if isinstance(team, Workspace):
            return team
        return cls(team or "")

    @classmethod
    def from_context(cls, context: Any) -> Workspace:
        """The workspace of a Bolt request (its body, or what authorize found)."""
        return cls(getattr(context, "team_id", None) or "", getattr(context, "enterprise_id", None) or None)

    def __str__(self) -> str:
        return f"{self.enterprise_id}/{self.team_id}" if self.enterprise_id else self.team_id
