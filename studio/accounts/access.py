"""Access helpers: the one way views find a workspace for the requesting user.

Outside the user's workspaces the answer is 404 (existence is not revealed); inside but with too
weak a role it is 403.
"""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from studio.accounts.models import Membership, Role, Workspace
from studio.accounts.services import ensure_personal_workspace


def get_membership_for_user(request: HttpRequest, public_id: UUID | str, min_role: str = Role.VIEWER) -> Membership:
    Role.rank(min_role)  # rejects a misspelt role before any query
    user = request.user
    if not user.is_authenticated:
        raise Http404("No such workspace")
    try:
        workspace_id = public_id if isinstance(public_id, UUID) else UUID(str(public_id))
    except ValueError:
        raise Http404("No such workspace") from None
    membership = (
        Membership.objects.select_related("workspace")
        .filter(user=user, workspace__public_id=workspace_id)
        .first()
    )
    if membership is None:
        raise Http404("No such workspace")
    if not Role.allows(membership.role, min_role):
        raise PermissionDenied(f"This needs the {Role(min_role).label.lower()} role or stronger")
    return membership


def get_workspace_for_user(request: HttpRequest, public_id: UUID | str, min_role: str = Role.VIEWER) -> Workspace:
    """The workspace `public_id` if the user is a member with at least `min_role`.

    Raises Http404 outside the user's workspaces (or for a malformed id), PermissionDenied (403)
    for too weak a role. The returned workspace carries the user's role as `.role`.
    """
    membership = get_membership_for_user(request, public_id, min_role)
    workspace = membership.workspace
    workspace.role = membership.role
    return workspace


def current_workspace(request: HttpRequest) -> Workspace:
    """The workspace the studio shows: the user's personal one for now (a switcher comes later)."""
    cached = getattr(request, "_parley_workspace", None)
    if cached is not None:
        return cached
    if not request.user.is_authenticated:
        raise Http404("No workspace without a login")
    membership = (
        Membership.objects.select_related("workspace")
        .filter(user=request.user, workspace__personal_for=request.user)
        .first()
    )
    if membership is None:
        ensure_personal_workspace(request.user)
        membership = Membership.objects.select_related("workspace").get(
            user=request.user, workspace__personal_for=request.user
        )
    workspace = membership.workspace
    workspace.role = membership.role
    request._parley_workspace = workspace
    return workspace
