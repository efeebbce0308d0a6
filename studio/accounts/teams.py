"""Team workspaces and their members: create, rename, delete, change roles, remove, leave.

Each operation is one transaction that first locks the workspace row, so two owners acting at
once are serialised and the "at least one owner" rule cannot be broken by a race (two owners
demoting each other). Rule breaks raise TeamError with a sentence for the page; nothing changes.
Views check access first (studio.accounts.access); the owner checks here are a second line.
"""

from __future__ import annotations

import logging

from django.db import router, transaction
from django.db.models.deletion import Collector

from studio.accounts import audit
from studio.accounts.audit import Action
from studio.accounts.models import Membership, Role, User, Workspace

log = logging.getLogger(__name__)

NAME_MAX = 150


class TeamError(Exception):
    """A team rule said no. The message is a whole sentence for the person who asked."""


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise TeamError("Give the workspace a name.")
    if len(name) > NAME_MAX:
        raise TeamError(f"A workspace name has at most {NAME_MAX} characters.")
    return name


def _locked(workspace: Workspace) -> Workspace:
    """The workspace row, locked until the transaction ends (a no-op lock on SQLite, whose
    IMMEDIATE transactions already serialise writers)."""
    return Workspace.objects.select_for_update().get(pk=workspace.pk)


def _membership(workspace: Workspace, user: User) -> Membership | None:
    return Membership.objects.select_for_update().filter(workspace=workspace, user=user).first()


def _require_owner(workspace: Workspace, user: User) -> Membership:
    membership = _membership(workspace, user)
    if membership is None or membership.role != Role.OWNER:
        raise TeamError("Only an owner of the workspace can do that.")
    return membership


def _owner_count(workspace: Workspace) -> int:
    return Membership.objects.filter(workspace=workspace, role=Role.OWNER).count()


def is_personal(workspace: Workspace) -> bool:
    return workspace.personal_for_id is not None


@transaction.atomic
def create_team_workspace(user: User, name: str) -> Workspace:
    """A new team workspace with `user` as its owner."""
    workspace = Workspace.objects.create(name=clean_name(name))
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    audit.record(workspace, user, Action.WORKSPACE_CREATED, workspace, name=workspace.name)
    return workspace


@transaction.atomic
def rename_workspace(workspace: Workspace, user: User, name: str) -> Workspace:
    new_name = clean_name(name)
    workspace = _locked(workspace)
    _require_owner(workspace, user)
    old_name = workspace.name
    if new_name == old_name:
        return workspace
    workspace.name = new_name
    workspace.save(update_fields=["name"])
    audit.record(workspace, user, Action.WORKSPACE_RENAMED, workspace, old=old_name, new=new_name)
    return workspace


# Words for kinds whose model names read oddly on a page; everything else uses its verbose name.
_KIND_WORDS = {
    "crews.agentdef": ("agent", "agents"),
    "crews.modelendpoint": ("model", "models"),
    "crews.crewmember": ("crew member slot", "crew member slots"),
    "accounts.membership": ("membership", "memberships"),
    "accounts.auditevent": ("audit log line", "audit log lines"),
}


def _kind_words(model: type) -> tuple[str, str]:
    return _KIND_WORDS.get(model._meta.label_lower,
                           (str(model._meta.verbose_name), str(model._meta.verbose_name_plural)))


def deletion_summary(workspace: Workspace) -> list[str]:
    """What deleting the workspace deletes with it, counted per kind ("1 crew", "12 messages").

    Uses Django's own deletion collector, so what later apps hang off a workspace is counted
    without this function knowing about it."""
    collector = Collector(using=router.db_for_write(Workspace))
    collector.collect([workspace])
    counts: dict[type, int] = {}
    for model, instances in collector.data.items():
        if model is not Workspace:
            counts[model] = counts.get(model, 0) + len(instances)
    for queryset in collector.fast_deletes:
        counts[queryset.model] = counts.get(queryset.model, 0) + queryset.count()
    lines = []
    for model, count in counts.items():
        if count:
            singular, plural = _kind_words(model)
            lines.append((plural, f"{count} {singular if count == 1 else plural}"))
    return [line for _, line in sorted(lines)]


def _active_runs(workspace: Workspace) -> int:
    from studio.runs.models import ACTIVE_STATUSES, Run

    return Run.objects.filter(workspace=workspace, status__in=ACTIVE_STATUSES).count()


@transaction.atomic
def delete_workspace(workspace: Workspace, user: User, confirm_name: str) -> list[str]:
    """Delete a team workspace and everything in it; returns deletion_summary as it was."""
    workspace = _locked(workspace)
    _require_owner(workspace, user)
    if is_personal(workspace):
        raise TeamError("Your personal workspace stays with your account; it cannot be deleted.")
    if " ".join((confirm_name or "").split()) != workspace.name:
        raise TeamError(f"Type the workspace's name, “{workspace.name}”, to confirm.")
    active = _active_runs(workspace)
    if active:
        raise TeamError(f"{active} run{'s' if active != 1 else ''} of this workspace {'are' if active != 1 else 'is'} "
                        "still going; cancel or finish them first.")
    summary = deletion_summary(workspace)
    log.info("workspace %s (%r) deleted by %s: %s", workspace.public_id, workspace.name, user.get_username(), summary)
    workspace.delete()  # its audit log goes with it; the log line above is the trace
    return summary


@transaction.atomic
def change_role(workspace: Workspace, actor: User, member: User, role: str) -> Membership:
    try:
        Role.rank(role)
    except ValueError:
        raise TeamError(f"Choose one of the roles: {', '.join(Role.labels)}.") from None
    workspace = _locked(workspace)
    _require_owner(workspace, actor)
    membership = _membership(workspace, member)
    if membership is None:
        raise TeamError(f"{member.get_username()} is not a member of this workspace.")
    old = membership.role
    if old == role:
        raise TeamError(f"{member.get_username()} already has the {Role(role).label.lower()} role.")
    if old == Role.OWNER and _owner_count(workspace) == 1:
        raise TeamError(f"{member.get_username()} is the last owner. Make someone else an owner first.")
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(workspace, actor, Action.ROLE_CHANGED, member, old=old, new=role)
    return membership


@transaction.atomic
def remove_member(workspace: Workspace, actor: User, member: User) -> None:
    if actor.pk == member.pk:
        leave_workspace(workspace, actor)
        return
    workspace = _locked(workspace)
    _require_owner(workspace, actor)
    membership = _membership(workspace, member)
    if membership is None:
        raise TeamError(f"{member.get_username()} is not a member of this workspace.")
    if workspace.personal_for_id == member.pk:
        raise TeamError("A personal workspace always keeps its person.")
    if membership.role == Role.OWNER and _owner_count(workspace) == 1:
        raise TeamError(f"{member.get_username()} is the last owner and cannot be removed.")
    membership.delete()
    audit.record(workspace, actor, Action.MEMBER_REMOVED, member, role=membership.role)


@transaction.atomic
def leave_workspace(workspace: Workspace, user: User) -> None:
    workspace = _locked(workspace)
    if workspace.personal_for_id == user.pk:
        raise TeamError("Your personal workspace stays with your account; you cannot leave it.")
    membership = _membership(workspace, user)
    if membership is None:
        raise TeamError("You are not a member of this workspace.")
    if membership.role == Role.OWNER and _owner_count(workspace) == 1:
        raise TeamError("You are the last owner. Make someone else an owner first, or delete the workspace.")
    membership.delete()
    audit.record(workspace, user, Action.MEMBER_LEFT, user, role=membership.role)
