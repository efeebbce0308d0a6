"""Finding runs and crews for a user, through the workspace access helpers.

Outside the user's workspaces the answer is 404 (existence is not revealed); inside with too weak
a role, 403. Viewing a run needs the viewer role; starting, replying and cancelling need runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404

from studio.accounts.access import get_workspace_for_user
from studio.accounts.models import Membership, Role
from studio.runs.models import HumanInputRequest, Run


@dataclass
class _AsUser:
    """The part of a request the access helpers read (`.user`), for callers without a request
    (the websocket consumer, the command line)."""

    user: Any


def _as_request(request_or_user: Any) -> Any:
    return request_or_user if hasattr(request_or_user, "user") else _AsUser(request_or_user)


def _uuid(value: UUID | str, what: str) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise Http404(f"No such {what}") from None


def get_run_for_user(request_or_user: Any, public_id: UUID | str, min_role: str = Role.VIEWER) -> Run:
    """The run if its workspace lets the user in with `min_role`; Http404 / PermissionDenied otherwise.

    The returned run carries the user's role in its workspace as `.role`.
    """
    run = Run.objects.select_related("workspace").filter(public_id=_uuid(public_id, "run")).first()
    if run is None:
        raise Http404("No such run")
    workspace = get_workspace_for_user(_as_request(request_or_user), run.workspace.public_id, min_role)
    run.role = workspace.role
    return run


def get_request_for_user(request_or_user: Any, run: Run, public_id: UUID | str) -> HumanInputRequest:
    found = HumanInputRequest.objects.filter(run=run, public_id=_uuid(public_id, "question")).first()
    if found is None:
        raise Http404("No such question")
    return found


def get_crew_for_user(request_or_user: Any, public_id: UUID | str, min_role: str = Role.RUNNER) -> Any:
    from studio.crews.models import Crew

    crew = Crew.objects.select_related("workspace").filter(public_id=_uuid(public_id, "crew")).first()
    if crew is None:
        raise Http404("No such crew")
    get_workspace_for_user(_as_request(request_or_user), crew.workspace.public_id, min_role)
    return crew


def role_in(user: Any, workspace_id: int) -> str | None:
    """The cheap re-check the websocket runs before each event: the role of a still active member,
    None once the user is inactive or no member."""
    if user is None or not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user_id=user.pk, user__is_active=True, workspace_id=workspace_id)
        .values_list("role", flat=True)
        .first()
    )


def require_role(run: Run, min_role: str) -> None:
    role = getattr(run, "role", None)
    if role is None or not Role.allows(role, min_role):
        raise PermissionDenied(f"This needs the {Role(min_role).label.lower()} role or stronger")
