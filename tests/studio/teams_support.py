"""Shared builders for the team-sharing tests (no tests here): teams made through the same
service functions the pages use, and small readers for pages and the audit log."""

from __future__ import annotations

import html

from django.test import Client

from studio.accounts import teams
from studio.accounts.access import SESSION_KEY
from studio.accounts.models import AuditEvent, Membership, Role, User, Workspace


def make_team(owner: User, name: str = "Research", **members: str) -> Workspace:
    """A team workspace owned by `owner`; `members` maps usernames to roles (users must exist)."""
    team = teams.create_team_workspace(owner, name)
    for username, role in members.items():
        Membership.objects.create(workspace=team, user=User.objects.get(username=username), role=role)
    return team


def role_of(user: User, workspace: Workspace) -> str | None:
    return Membership.objects.filter(user=user, workspace=workspace).values_list("role", flat=True).first()


def actions(workspace: Workspace) -> list[str]:
    """The workspace's audit actions, oldest first."""
    return list(AuditEvent.objects.filter(workspace=workspace).order_by("created_at", "id").values_list("action", flat=True))


def text(response) -> str:
    """The response body with HTML entities decoded (names with apostrophes read naturally)."""
    return html.unescape(response.content.decode())


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def chosen(client: Client) -> str | None:
    return client.session.get(SESSION_KEY)


OWNER, EDITOR, RUNNER, VIEWER = Role.OWNER, Role.EDITOR, Role.RUNNER, Role.VIEWER
