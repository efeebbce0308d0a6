"""Access helpers: the one way views find a workspace for the requesting user.

Outside the user's workspaces the answer is 404 (existence is not revealed); inside but with too
weak a role it is 403.
"""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from studio.accounts.models import Membership, Role, User, Workspace
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


# The switcher's choice: a workspace public id, re-checked against memberships on every request.
SESSION_KEY = "parley_workspace"


def current_workspace(request: HttpRequest) -> Workspace:
    """The workspace the studio shows: the one chosen in the header switcher, else the personal one.

    The choice lives in the session and is checked against the user's memberships on every
    request; a choice that no longer holds (left, removed, deleted, or never theirs) is dropped
    and the personal workspace is used. The returned workspace carries the user's role as `.role`.
    """
    cached = getattr(request, "_parley_workspace", None)
    if cached is not None:
        return cached
    if not request.user.is_authenticated:
        raise Http404("No workspace without a login")
    membership = _chosen_membership(request)
    if membership is None:
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


def _chosen_membership(request: HttpRequest) -> Membership | None:
    session = getattr(request, "session", None)
    chosen = session.get(SESSION_KEY) if session is not None else None
    if not chosen:
        return None
    try:
        workspace_id = UUID(str(chosen))
    except ValueError:
        workspace_id = None
    membership = None
    if workspace_id is not None:
        membership = (
            Membership.objects.select_related("workspace")
            .filter(user=request.user, workspace__public_id=workspace_id)
            .first()
        )
    if membership is None:
        session.pop(SESSION_KEY, None)
    return membership


def choose_workspace(request: HttpRequest, public_id: UUID | str) -> Workspace:
    """Make `public_id` the current workspace for this session (404 outside the user's workspaces)."""
    workspace = get_workspace_for_user(request, public_id)
    if workspace.personal_for_id == request.user.pk:
        request.session.pop(SESSION_KEY, None)  # the default needs no stored choice
    else:
        request.session[SESSION_KEY] = str(workspace.public_id)
    request._parley_workspace = workspace
    return workspace


def memberships_of(user: User, min_role: str = Role.VIEWER) -> list[Membership]:
    """The user's memberships with at least `min_role`: personal workspace first, then by name."""
    allowed = [role for role in Role.values if Role.allows(role, min_role)]
    memberships = list(
        Membership.objects.select_related("workspace")
        .filter(user=user, role__in=allowed)
        .order_by("workspace__name", "workspace__id")
    )
    memberships.sort(key=lambda m: m.workspace.personal_for_id != user.pk)  # stable: name order kept
    for membership in memberships:
        membership.workspace.role = membership.role
    return memberships
