"""Account operations with more than one write; views call these, never the models directly."""

from __future__ import annotations

from django.db import transaction

from studio.accounts.models import Membership, Role, User, Workspace


def personal_workspace_name(user: User) -> str:
    return f"{user.get_username()}'s workspace"


@transaction.atomic
def ensure_personal_workspace(user: User) -> Workspace:
    """The user's personal workspace, created (with an owner membership) if missing.

    Sign-up always makes it; this also covers users made by `createsuperuser`.
    """
    workspace, _ = Workspace.objects.get_or_create(personal_for=user, defaults={"name": personal_workspace_name(user)})
    Membership.objects.get_or_create(user=user, workspace=workspace, defaults={"role": Role.OWNER})
    return workspace


@transaction.atomic
def sign_up(*, username: str, email: str, password: str) -> User:
    """Create a user and their personal workspace in one transaction."""
    user = User.objects.create_user(username=username, email=email, password=password)
    ensure_personal_workspace(user)
    return user
