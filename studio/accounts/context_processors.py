"""Template context every page gets."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from studio.accounts.access import current_workspace


def workspace(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"current_workspace": None}
    return {"current_workspace": current_workspace(request)}
