"""The workspace audit log: one call, `record`, for every app that wants a line in it.

Call `record` inside the same transaction as the change it describes, so the line exists exactly
when the change does. A line names only things of its own workspace (its members read it): never
put another workspace's name or contents into `details`.

    from studio.accounts import audit
    audit.record(crew.workspace, request.user, audit.Action.CREW_CHANGED, crew, fields=["task"])
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from studio.accounts.models import AuditEvent, User, Workspace

ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class Action:
    """The actions Parley records. Other apps may add their own "<thing>.<verb>" names."""

    WORKSPACE_CREATED = "workspace.created"
    WORKSPACE_RENAMED = "workspace.renamed"
    MEMBER_INVITED = "member.invited"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_DECLINED = "invitation.declined"
    INVITATION_REVOKED = "invitation.revoked"
    ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    MEMBER_LEFT = "member.left"
    CREW_COPIED_IN = "crew.copied_in"
    CREW_COPIED_OUT = "crew.copied_out"
    # Written by the crews and runs apps.
    CREW_CREATED = "crew.created"
    CREW_CHANGED = "crew.changed"
    CREW_DELETED = "crew.deleted"
    AGENT_CREATED = "agent.created"
    AGENT_CHANGED = "agent.changed"
    AGENT_DELETED = "agent.deleted"
    MODEL_CREATED = "model.created"
    MODEL_CHANGED = "model.changed"
    MODEL_DELETED = "model.deleted"
    RUN_STARTED = "run.started"
    RUN_REPLIED = "run.replied"
    RUN_CANCELLED = "run.cancelled"
    RUN_SHARED = "run.shared"
    RUN_SHARE_REVOKED = "run.share_revoked"


def _target_parts(target: Any) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if not isinstance(target, models.Model) or target.pk is None:
        raise TypeError(f"target must be a saved model instance or None (got {target!r})")
    public_id = getattr(target, "public_id", None)
    label = target.get_username() if isinstance(target, User) else str(target)
    return target._meta.model_name, str(public_id if public_id is not None else target.pk), label[:300]


def record(workspace: Workspace, actor: User | None, action: str, target: Any = None, **details: Any) -> AuditEvent:
    """Add one line to `workspace`'s audit log and return it.

    `actor`: the user who did it (None or an anonymous user: Parley itself). `action`: a dotted
    lower-case name such as "crew.changed" (see Action). `target`: the saved object it concerns,
    or None. `details`: JSON-ready keyword arguments shown with the line.
    """
    if not isinstance(workspace, Workspace) or workspace.pk is None:
        raise TypeError(f"workspace must be a saved Workspace (got {workspace!r})")
    if not isinstance(action, str) or not ACTION_PATTERN.match(action) or len(action) > 64:
        raise ValueError(f"action must be a dotted lower-case name like 'crew.changed' (got {action!r})")
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if actor is not None and not isinstance(actor, User):
        raise TypeError(f"actor must be a User or None (got {actor!r})")
    try:
        json.dumps(details, cls=DjangoJSONEncoder)
    except TypeError as exc:
        raise TypeError(f"details must be JSON-ready ({exc})") from None
    target_type, target_id, target_label = _target_parts(target)
    return AuditEvent.objects.create(
        workspace=workspace,
        actor=actor,
        actor_label=actor.get_username() if actor is not None else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        details=details,
    )


_SENTENCES = {
    Action.WORKSPACE_CREATED: "created the workspace “{details[name]}”",
    Action.WORKSPACE_RENAMED: "renamed the workspace from “{details[old]}” to “{details[new]}”",
    Action.MEMBER_INVITED: "invited {details[invitee]} as {details[role]}",
    Action.INVITATION_ACCEPTED: "joined as {details[role]} by invitation",
    Action.INVITATION_DECLINED: "declined an invitation ({details[invitee]})",
    Action.INVITATION_REVOKED: "withdrew the invitation for {details[invitee]}",
    Action.ROLE_CHANGED: "changed {target}'s role from {details[old]} to {details[new]}",
    Action.MEMBER_REMOVED: "removed {target} from the workspace",
    Action.MEMBER_LEFT: "left the workspace",
    Action.CREW_COPIED_IN: "copied the crew “{target}” in from another workspace",
    Action.CREW_COPIED_OUT: "copied the crew “{target}” to another workspace",
    # A run's own label carries its id and status; these read better from the crew's name.
    Action.RUN_STARTED: "started a run of “{details[crew]}”",
    Action.RUN_REPLIED: "answered {details[agent]} in a run of “{details[crew]}”",
    Action.RUN_CANCELLED: "stopped a run of “{details[crew]}”",
    Action.RUN_SHARED: "made a read-only link to a run of “{details[crew]}”",
    Action.RUN_SHARE_REVOKED: "revoked a read-only link to a run of “{details[crew]}”",
}

# Invitation lines whose invitee is a link rather than an address read differently.
LINK_INVITEE = "link"
_LINK_SENTENCES = {
    Action.MEMBER_INVITED: "made an invitation link for a new {details[role]}",
    Action.INVITATION_DECLINED: "declined an invitation link",
    Action.INVITATION_REVOKED: "withdrew an invitation link",
}


def describe(event: AuditEvent) -> str:
    """The line in words, without the actor (pages show the actor in its own column)."""
    details = event.details or {}
    if event.action in _LINK_SENTENCES and details.get("invitee") == LINK_INVITEE:
        return _LINK_SENTENCES[event.action].format(details=details)
    template = _SENTENCES.get(event.action)
    if template is not None:
        try:
            return template.format(target=event.target_label, details=details)
        except (KeyError, IndexError, AttributeError):
            pass  # an older line with other details: fall through to the plain form
    noun, _, verb = event.action.partition(".")
    text = f"{verb.replace('_', ' ')} {noun.replace('_', ' ')}"
    return f"{text} “{event.target_label}”" if event.target_label else text
