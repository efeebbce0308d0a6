"""Template context every page gets: the current workspace, and (lazily, only if a template
uses them) the switcher's list of the user's workspaces and the invitations waiting for them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from studio.accounts.access import current_workspace, memberships_of
from studio.accounts.invitations import inbox


def workspace(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"current_workspace": None}

    return {
        "current_workspace": current_workspace(request),
        "switcher_memberships": SimpleLazyObject(lambda: memberships_of(user)),
        "invitation_inbox": SimpleLazyObject(lambda: list(inbox(user))),
    }
