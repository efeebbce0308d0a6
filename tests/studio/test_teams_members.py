"""Members: owners change roles and remove members, members leave, and the last owner stays."""

from __future__ import annotations

import uuid

import pytest

from studio.accounts import teams
from studio.accounts.models import AuditEvent, Role
from studio.accounts.teams import TeamError
from tests.studio.teams_support import EDITOR, OWNER, RUNNER, VIEWER, actions, logged_in, make_team, role_of, text

pytestmark = pytest.mark.django_db


def role_url(team, user) -> str:
    return f"/workspaces/{team.public_id}/members/{user.public_id}/role/"


def remove_url(team, user) -> str:
    return f"/workspaces/{team.public_id}/members/{user.public_id}/remove/"


def test_every_member_sees_the_members_only_owners_get_the_controls(client, alice, bob, charlie):
    team = make_team(alice, "Research", bob=VIEWER)
    owner_page = text(logged_in(client, alice).get(f"/workspaces/{team.public_id}/"))
    assert "<strong>alice</strong>" in owner_page and "<strong>bob</strong>" in owner_page
    assert role_url(team, bob) in owner_page and remove_url(team, bob) in owner_page
    assert "bob@example.test" in owner_page
    assert "The last owner" in owner_page

    viewer_page = text(logged_in(client, bob).get(f"/workspaces/{team.public_id}/"))
    assert "<strong>alice</strong>" in viewer_page and "Owner" in viewer_page
    assert role_url(team, alice) not in viewer_page and "/invitations/" not in viewer_page
    assert "alice@example.test" not in viewer_page  # addresses are for owners
    assert "Leave this workspace" in viewer_page

    assert logged_in(client, charlie).get(f"/workspaces/{team.public_id}/").status_code == 404


def test_owner_changes_a_role_and_it_is_audited(client, alice, bob):
    team = make_team(alice, "Research", bob=VIEWER)
    response = logged_in(client, alice).post(role_url(team, bob), {"role": RUNNER}, follow=True)
    assert "bob is now runner." in text(response)
    assert role_of(bob, team) == RUNNER
    event = AuditEvent.objects.get(workspace=team, action="member.role_changed")
    assert event.actor == alice and event.target_type == "user" and event.target_label == "bob"
    assert event.details == {"old": VIEWER, "new": RUNNER}
    assert "changed bob's role from viewer to runner" in text(client.get(f"/workspaces/{team.public_id}/audit/"))


def test_bad_role_changes_say_why_and_change_nothing(client, alice, bob):
    team = make_team(alice, "Research", bob=EDITOR)
    logged_in(client, alice)
    assert "Choose one of the roles" in text(client.post(role_url(team, bob), {"role": "admin"}, follow=True))
    assert "bob already has the editor role." in text(client.post(role_url(team, bob), {"role": EDITOR}, follow=True))
    assert role_of(bob, team) == EDITOR
    assert actions(team) == ["workspace.created"]


def test_non_owners_cannot_change_roles_outsiders_get_404(client, alice, bob, charlie):
    team = make_team(alice, "Research", bob=EDITOR, charlie=VIEWER)
    assert logged_in(client, bob).post(role_url(team, charlie), {"role": OWNER}).status_code == 403
    assert logged_in(client, bob).post(role_url(team, bob), {"role": OWNER}).status_code == 403
    assert role_of(bob, team) == EDITOR and role_of(charlie, team) == VIEWER
    stranger_team = make_team(charlie, "Charlie's")
    assert logged_in(client, alice).post(role_url(stranger_team, charlie), {"role": VIEWER}).status_code == 404
    # A member id that is no member of this workspace is 404 too.
    assert logged_in(client, alice).post(f"/workspaces/{team.public_id}/members/{uuid.uuid4()}/role/",
                                         {"role": VIEWER}).status_code == 404


def test_the_last_owner_cannot_be_demoted(client, alice, bob):
    team = make_team(alice, "Research", bob=EDITOR)
    response = logged_in(client, alice).post(role_url(team, alice), {"role": EDITOR}, follow=True)
    assert "alice is the last owner. Make someone else an owner first." in text(response)
    assert role_of(alice, team) == OWNER

    client.post(role_url(team, bob), {"role": OWNER})
    client.post(role_url(team, alice), {"role": EDITOR})  # now there is another owner: fine
    assert role_of(alice, team) == EDITOR and role_of(bob, team) == OWNER
    # alice is no owner any more: she cannot undo it herself.
    assert client.post(role_url(team, alice), {"role": OWNER}).status_code == 403


def test_the_last_owner_cannot_leave_others_can(client, alice, bob):
    team = make_team(alice, "Research", bob=RUNNER)
    refused = logged_in(client, alice).post(f"/workspaces/{team.public_id}/leave/", follow=True)
    assert "You are the last owner. Make someone else an owner first, or delete the workspace." in text(refused)
    assert role_of(alice, team) == OWNER

    left = logged_in(client, bob).post(f"/workspaces/{team.public_id}/leave/", follow=True)
    assert "You left “Research”." in text(left)
    assert role_of(bob, team) is None
    assert "Research" not in text(client.get("/"))  # gone from his switcher
    assert client.get(f"/workspaces/{team.public_id}/").status_code == 404
    assert actions(team)[-1] == "member.left"


def test_owner_removes_a_member_and_it_is_audited(client, alice, bob, charlie):
    team = make_team(alice, "Research", bob=EDITOR, charlie=VIEWER)
    assert logged_in(client, bob).post(remove_url(team, charlie)).status_code == 403
    assert role_of(charlie, team) == VIEWER

    response = logged_in(client, alice).post(remove_url(team, charlie), follow=True)
    assert "Removed charlie from “Research”." in text(response)
    assert role_of(charlie, team) is None
    event = AuditEvent.objects.get(workspace=team, action="member.removed")
    assert event.actor == alice and event.target_label == "charlie" and event.details == {"role": VIEWER}
    # charlie's pages of the team are gone at once.
    assert logged_in(client, charlie).get(f"/workspaces/{team.public_id}/audit/").status_code == 404


def test_an_owner_removing_themselves_is_leaving_with_the_same_rule(client, alice, bob):
    team = make_team(alice, "Research", bob=OWNER)
    logged_in(client, alice)
    client.post(role_url(team, bob), {"role": EDITOR})
    refused = client.post(remove_url(team, alice), follow=True)
    assert "You are the last owner" in text(refused) and role_of(alice, team) == OWNER


def test_service_rules_hold_without_the_pages(alice, bob):
    team = make_team(alice, "Research", bob=EDITOR)
    with pytest.raises(TeamError, match="Only an owner"):
        teams.change_role(team, bob, alice, Role.VIEWER)
    with pytest.raises(TeamError, match="Only an owner"):
        teams.remove_member(team, bob, alice)
    with pytest.raises(TeamError, match="You are not a member"):
        teams.leave_workspace(make_team(bob, "Other"), alice)
    # Even with data made by hand (a second owner in a personal workspace), its person stays.
    personal = alice.personal_workspace
    personal.memberships.create(user=bob, role=Role.OWNER)
    with pytest.raises(TeamError, match="A personal workspace always keeps its person"):
        teams.remove_member(personal, bob, alice)
    assert role_of(alice, personal) == OWNER and role_of(alice, team) == OWNER and role_of(bob, team) == EDITOR
