"""Invitations into team workspaces: by email address or by an open single-use link.

Parley sends no mail. Every invitation has a link token (`secrets.token_urlsafe`); only its
SHA-256 is stored, so the link is shown once to the owner who made it, to pass on. An invitation
addressed to an email can only be taken by an account with that address; it also shows in the
inbox of accounts that had that address before the invitation was made (an address typed at
sign-up is unverified, so a newer account must hold the link itself).

Accepting claims the invitation with one conditional UPDATE (pending and unexpired -> accepted)
inside the transaction that creates the membership: of two racing accepts exactly one wins.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from studio.accounts import audit
from studio.accounts.audit import LINK_INVITEE, Action
from studio.accounts.models import Invitation, InvitationStatus, Membership, Role, User, Workspace
from studio.accounts.teams import TeamError, _locked, _require_owner, is_personal

DEFAULT_DAYS = 7
MAX_DAYS = 90
TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 200


def default_days() -> int:
    """How long a new invitation lasts: settings.PARLEY_INVITATION_DAYS, default 7."""
    return int(getattr(settings, "PARLEY_INVITATION_DAYS", DEFAULT_DAYS))


@dataclass(frozen=True)
class NewInvitation:
    """A just-made invitation and its token: the only moment the token exists in plain text."""

    invitation: Invitation
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise TeamError(f"“{email}” is not an email address.") from None
    return email


def _expiry(days: int | None) -> datetime:
    days = default_days() if days is None else days
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise TeamError(f"An invitation lasts between 1 and {MAX_DAYS} days.")
    return timezone.now() + timedelta(days=days)


def _check_role(role: str) -> str:
    try:
        Role.rank(role)
    except ValueError:
        raise TeamError(f"Choose one of the roles: {', '.join(Role.labels)}.") from None
    return role


def _create(workspace: Workspace, inviter: User, role: str, days: int | None, email: str = "") -> NewInvitation:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = Invitation(workspace=workspace, email=email, role=role, token_hash=hash_token(token),
                            invited_by=inviter, expires_at=_expiry(days))
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:
        # Another owner invited the same address a moment ago (the one-pending-per-email rule).
        raise TeamError(f"{email} already has an open invitation to this workspace.") from None
    audit.record(workspace, inviter, Action.MEMBER_INVITED, invitation, invitee=email or LINK_INVITEE,
                 role=role, expires_at=invitation.expires_at)
    return NewInvitation(invitation, token)


def _check_shareable(workspace: Workspace, inviter: User) -> None:
    _require_owner(workspace, inviter)
    if is_personal(workspace):
        raise TeamError("A personal workspace is not shared. Create a team workspace to invite people.")


@transaction.atomic
def invite_by_email(workspace: Workspace, inviter: User, email: str, role: str = Role.EDITOR,
                    days: int | None = None) -> NewInvitation:
    email, role = normalise_email(email), _check_role(role)
    workspace = _locked(workspace)
    _check_shareable(workspace, inviter)
    member = Membership.objects.filter(workspace=workspace, user__email__iexact=email).select_related("user").first()
    if member is not None:
        raise TeamError(f"{member.user.get_username()} ({email}) is already a member of this workspace.")
    open_ones = Invitation.objects.filter(workspace=workspace, email=email, status=InvitationStatus.PENDING)
    if open_ones.filter(expires_at__gt=timezone.now()).exists():
        raise TeamError(f"{email} already has an open invitation to this workspace. Withdraw it to make a new one.")
    open_ones.update(status=InvitationStatus.EXPIRED)  # ran out: the new invitation replaces it
    return _create(workspace, inviter, role, days, email=email)


@transaction.atomic
def create_invite_link(workspace: Workspace, inviter: User, role: str = Role.EDITOR,
                       days: int | None = None) -> NewInvitation:
    role = _check_role(role)
    workspace = _locked(workspace)
    _check_shareable(workspace, inviter)
    return _create(workspace, inviter, role, days)


def find_by_token(token: str) -> Invitation | None:
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return Invitation.objects.select_related("workspace", "invited_by").filter(token_hash=hash_token(token)).first()


def is_expired(invitation: Invitation) -> bool:
    return invitation.expires_at <= timezone.now()


def _email_of(user: User) -> str:
    return (user.email or "").strip().lower()


def problem(invitation: Invitation, user: User, *, by_link: bool = True) -> str | None:
    """Why `user` cannot answer `invitation` now, in a sentence; None when they can.

    `by_link=False` is the inbox path (no token shown): the account must also predate the invitation.
    """
    if invitation.status == InvitationStatus.ACCEPTED:
        return "This invitation has already been used."
    if invitation.status == InvitationStatus.DECLINED:
        return "This invitation was declined."
    if invitation.status == InvitationStatus.REVOKED:
        return "This invitation was withdrawn by an owner of the workspace."
    if invitation.status == InvitationStatus.EXPIRED or is_expired(invitation):
        inviter = invitation.invited_by.get_username() if invitation.invited_by else "an owner"
        return f"This invitation expired on {date_format(invitation.expires_at, 'DATE_FORMAT')}. Ask {inviter} for a new one."
    if invitation.email and invitation.email != _email_of(user):
        return "This invitation is addressed to another email address than your account's."
    if invitation.email and not by_link and user.date_joined > invitation.created_at:
        return "Open the invitation link you were given to answer this invitation."
    if Membership.objects.filter(workspace_id=invitation.workspace_id, user=user).exists():
        return f"You are already a member of “{invitation.workspace.name}”."
    return None


def _claim(invitation: Invitation, user: User, status: str, *, by_link: bool) -> Invitation:
    """Move a pending, unexpired invitation to `status` for `user`, exactly once, or raise TeamError."""
    reason = problem(invitation, user, by_link=by_link)
    if reason:
        raise TeamError(reason)
    now = timezone.now()
    claimed = Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING, expires_at__gt=now).update(
        status=status, responded_at=now, responded_by=user
    )
    if claimed != 1:
        # Someone else got there between our read and our update: report what they did.
        invitation.refresh_from_db()
        raise TeamError(problem(invitation, user, by_link=by_link) or "This invitation has already been answered.")
    invitation.status, invitation.responded_at, invitation.responded_by = status, now, user
    return invitation


@transaction.atomic
def accept(invitation: Invitation, user: User, *, by_link: bool = True) -> Membership:
    """Join the invitation's workspace with its role (see `problem` for when that is refused)."""
    invitation = _claim(invitation, user, InvitationStatus.ACCEPTED, by_link=by_link)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(workspace_id=invitation.workspace_id, user=user, role=invitation.role)
    except IntegrityError:
        # Joined through another invitation meanwhile; the outer transaction un-claims this one.
        raise TeamError(f"You are already a member of “{invitation.workspace.name}”.") from None
    audit.record(invitation.workspace, user, Action.INVITATION_ACCEPTED, invitation, role=invitation.role,
                 invitee=invitation.email or LINK_INVITEE)
    return membership


@transaction.atomic
def decline(invitation: Invitation, user: User, *, by_link: bool = True) -> Invitation:
    invitation = _claim(invitation, user, InvitationStatus.DECLINED, by_link=by_link)
    audit.record(invitation.workspace, user, Action.INVITATION_DECLINED, invitation,
                 invitee=invitation.email or LINK_INVITEE)
    return invitation


@transaction.atomic
def revoke(invitation: Invitation, actor: User) -> Invitation:
    _require_owner(_locked(invitation.workspace), actor)
    withdrawn = Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING).update(
        status=InvitationStatus.REVOKED, responded_at=timezone.now(), responded_by=actor
    )
    if withdrawn != 1:
        raise TeamError("That invitation was already answered or withdrawn.")
    invitation.refresh_from_db()
    audit.record(invitation.workspace, actor, Action.INVITATION_REVOKED, invitation,
                 invitee=invitation.email or LINK_INVITEE)
    return invitation


def open_invitations(workspace: Workspace) -> QuerySet[Invitation]:
    """Pending invitations of the workspace, expired ones included (pages mark them)."""
    return workspace.invitations.filter(status=InvitationStatus.PENDING).select_related("invited_by")


def inbox(user: User) -> QuerySet[Invitation]:
    """Email invitations `user` can answer from the studio itself (no link needed)."""
    email = _email_of(user)
    if not email or not user.is_authenticated:
        return Invitation.objects.none()
    return (
        Invitation.objects.filter(email=email, status=InvitationStatus.PENDING, expires_at__gt=timezone.now(),
                                  created_at__gte=user.date_joined)
        .exclude(workspace__memberships__user=user)
        .select_related("workspace", "invited_by")
        .order_by("-created_at")
    )
