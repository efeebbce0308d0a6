"""Copying a crew into another workspace of the same person (issue 6, shared crews).

The copy goes through the crew file format: `export_crew` writes the crew, its agents and models
without any API key, and `exchange.import_crew` builds them in the target with the same checks as
an import. So a copied model that needs a key has none, and `services.run_problems` on the copy
says so until someone of the target workspace sets one. Identical agents and models already in
the target are reused (the import's rule); their keys belong to the target already.

Who may copy: viewer or stronger in the crew's workspace, editor or stronger in the target.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404

from studio.accounts import audit
from studio.accounts.audit import Action
from studio.accounts.models import Membership, Role, User, Workspace
from studio.crews.exchange import ImportResult, import_crew
from studio.crews.models import Crew
from studio.crews.snapshots import export_crew

COPY_TARGET_ROLE = Role.EDITOR
COPY_SOURCE_ROLE = Role.VIEWER


class CopyRefused(Exception):
    """The copy cannot go to that workspace; the message says why, in a sentence."""


def _role_in(user: User, workspace: Workspace) -> str | None:
    return Membership.objects.filter(user=user, workspace=workspace).values_list("role", flat=True).first()


def copy_targets(user: User, crew: Crew) -> list[Workspace]:
    """The workspaces `user` may copy `crew` into: editor or stronger, other than the crew's own."""
    memberships = (
        Membership.objects.select_related("workspace")
        .filter(user=user, role__in=[r for r in Role.values if Role.allows(r, COPY_TARGET_ROLE)])
        .exclude(workspace_id=crew.workspace_id)
        .order_by("workspace__name", "workspace__id")
    )
    targets = []
    for membership in memberships:
        membership.workspace.role = membership.role
        targets.append(membership.workspace)
    targets.sort(key=lambda w: w.personal_for_id != user.pk)  # personal first, then by name
    return targets


@transaction.atomic
def copy_crew_to_workspace(crew: Crew, target_workspace: Workspace, user: User) -> ImportResult:
    """Copy `crew` (with its agents and models, never keys) into `target_workspace` for `user`.

    Raises Http404 when the user is no member of the crew's workspace, PermissionDenied when
    their role there is too weak to read it, and CopyRefused (nothing written) when the target is
    the crew's own workspace or one they cannot edit. Both workspaces' audit logs get a line.
    """
    source_role = _role_in(user, crew.workspace)
    if source_role is None:
        raise Http404("No such crew")
    if not Role.allows(source_role, COPY_SOURCE_ROLE):
        raise PermissionDenied("Copying a crew needs the viewer role or stronger in its workspace")
    if target_workspace.pk == crew.workspace_id:
        raise CopyRefused(f"“{crew.name}” is already in “{target_workspace.name}”. Choose another workspace.")
    target_role = _role_in(user, target_workspace)
    if target_role is None or not Role.allows(target_role, COPY_TARGET_ROLE):
        # Same sentence for "not a member" and "too weak a role": existence is not revealed.
        raise CopyRefused("You can only copy a crew into a workspace where you are an editor or owner.")
    result = import_crew(target_workspace, user=user, data=export_crew(crew))
    # Each line names only its own workspace's things: members of one need not see the other.
    audit.record(crew.workspace, user, Action.CREW_COPIED_OUT, crew)
    audit.record(target_workspace, user, Action.CREW_COPIED_IN, result.crew, source_name=crew.name,
                 needs_key=list(result.needs_key))
    return result
