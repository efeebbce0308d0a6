"""Users, workspaces and who may do what in them."""

from __future__ import annotations

from uuid import uuid4

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """Parley's user; a custom model from day one so fields can be added without pain."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)


class Role(models.TextChoices):
    """Workspace roles, strongest first. Each role can do everything the weaker ones can."""

    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    RUNNER = "runner", "Runner"
    VIEWER = "viewer", "Viewer"

    @classmethod
    def rank(cls, role: str) -> int:
        """Higher is stronger: viewer 1 ... owner 4."""
        ordered = [cls.VIEWER, cls.RUNNER, cls.EDITOR, cls.OWNER]
        try:
            return ordered.index(cls(role)) + 1
        except ValueError:
            raise ValueError(f"role must be one of {', '.join(cls.values)} (got {role!r})") from None

    @classmethod
    def allows(cls, role: str, min_role: str) -> bool:
        return cls.rank(role) >= cls.rank(min_role)


class Workspace(models.Model):
    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    name = models.CharField(max_length=150)
    # Set for the workspace made at sign-up; one per user.
    personal_for = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="personal_workspace",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="workspaces")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique_user_workspace"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    REVOKED = "revoked", "Revoked"
    # Set when a new invitation for the same address replaces one that ran out.
    EXPIRED = "expired", "Expired"


class Invitation(models.Model):
    """An invitation into a team workspace: addressed to an email, or an open single-use link.

    Both kinds carry a link token; only its SHA-256 is stored, so the link can be shown once (to
    the owner who made it) and never read back. A pending invitation past `expires_at` is expired.
    """

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    # Lower-cased; empty for a link invitation (whoever holds the link may accept it).
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EDITOR)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="invitation_role_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=InvitationStatus.values), name="invitation_status_valid"
            ),
            # One open invitation per address and workspace; a second invite is refused, not doubled.
            models.UniqueConstraint(
                fields=["workspace", "email"],
                condition=models.Q(status="pending") & ~models.Q(email=""),
                name="invitation_one_pending_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"invitation for {self.email}" if self.email else "invitation link"

    @property
    def is_link(self) -> bool:
        return not self.email


class AuditEvent(models.Model):
    """One line of a workspace's audit log: who did what to which object, and when.

    `actor_label` and `target_label` keep the names as they were, so the line still reads right
    after the user or the object is renamed or deleted. Written only through `audit.record`.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="audit_workspace_recent")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label or 'Parley'} {self.action} {self.target_label}"
