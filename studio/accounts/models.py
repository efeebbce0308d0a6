"""Users, workspaces and who may do what in them."""

from __future__ import annotations

from uuid import uuid4

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


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
