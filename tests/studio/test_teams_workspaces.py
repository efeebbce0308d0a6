"""Team workspaces: create, rename, delete (with confirmation), the personal workspace's rules, and
the header switcher (a session choice re-checked against memberships on every request)."""

from __future__ import annotations

import uuid

import pytest
from django.test import RequestFactory

from studio.accounts.access import SESSION_KEY, current_workspace
from studio.accounts.models import AuditEvent, Invitation, Membership, Role, Workspace
from studio.crews.models import AgentDef, Crew, ModelEndpoint
from studio.runs.models import Run, RunStatus
from tests.studio.crews_support import make_agent, make_model, two_agent_crew
from tests.studio.teams_support import (
    EDITOR,
    OWNER,
    VIEWER,
    actions,
    chosen,
    logged_in,
    make_team,
    role_of,
    text,
)

pytestmark = pytest.mark.django_db


# --- create ----------------------------------------------------------------------------------------


def test_alice_creates_a_team_becomes_owner_and_lands_in_it(client, alice):
    logged_in(client, alice)
    response = client.post("/workspaces/new/", {"name": "  Research   Lab "}, follow=True)

    team = Workspace.objects.get(name="Research Lab")
    assert team.personal_for is None
    assert role_of(alice, team) == OWNER and team.memberships.count() == 1
    assert response.redirect_chain == [(f"/workspaces/{team.public_id}/", 302)]
    assert "Created the team workspace “Research Lab”" in text(response)
    # The new team is now the current workspace: the header and the home page show it.
    assert chosen(client) == str(team.public_id)
    home = text(client.get("/"))
    assert '<span class="workspace">Research Lab</span>' in home
    assert actions(team) == ["workspace.created"]
    event = AuditEvent.objects.get(workspace=team)
    assert event.actor == alice and event.target_id == str(team.public_id) and event.details == {"name": "Research Lab"}


def test_a_blank_or_overlong_name_is_refused(client, alice):
    logged_in(client, alice)
    assert client.post("/workspaces/new/", {"name": "   "}).status_code == 200
    assert "This field is required." in text(client.post("/workspaces/new/", {"name": ""}))
    assert "at most 150 characters" in text(client.post("/workspaces/new/", {"name": "x" * 151}))
    assert Workspace.objects.filter(personal_for__isnull=True).count() == 0


def test_the_index_lists_every_workspace_with_the_role(client, alice, bob):
    team = make_team(bob, "Bob's team", alice=VIEWER)
    page = text(logged_in(client, alice).get("/workspaces/"))
    assert "alice's workspace" in page and "Bob's team" in page
    assert f'value="{team.public_id}"' in page  # a "Switch to it" button
    assert "Viewer" in page and "Owner" in page


# --- rename ----------------------------------------------------------------------------------------


def test_owner_renames_others_cannot(client, alice, bob, charlie):
    team = make_team(alice, "Research", bob=EDITOR)
    url = f"/workspaces/{team.public_id}/rename/"

    assert logged_in(client, bob).post(url, {"name": "Bob's now"}).status_code == 403
    assert logged_in(client, charlie).post(url, {"name": "Mine"}).status_code == 404
    team.refresh_from_db()
    assert team.name == "Research"

    response = logged_in(client, alice).post(url, {"name": "Applied Research"})
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.name == "Applied Research"
    assert actions(team) == ["workspace.created", "workspace.renamed"]
    assert AuditEvent.objects.get(action="workspace.renamed").details == {"old": "Research", "new": "Applied Research"}
    audit_page = text(client.get(f"/workspaces/{team.public_id}/audit/"))
    assert "renamed the workspace from “Research” to “Applied Research”" in audit_page


# --- delete ----------------------------------------------------------------------------------------


@pytest.fixture
def stocked_team(alice, bob):
    """A team with a model (with a key), two agents, a crew, a pending invitation and bob as editor."""
    team = make_team(alice, "Doomed", bob=EDITOR)
    model = make_model(team, alice, name="GPT")
    writer = make_agent(team, alice, name="writer", model=model)
    proxy = make_agent(team, alice, name="proxy", kind="user_proxy")
    two_agent_crew(team, alice, proxy, writer, name="Pair")
    Invitation.objects.create(workspace=team, email="zed@example.test", token_hash="x" * 64,
                              expires_at="2999-01-01T00:00:00Z")
    return team


def test_delete_names_what_goes_and_needs_the_typed_name(client, alice, stocked_team):
    team = stocked_team
    url = f"/workspaces/{team.public_id}/delete/"
    logged_in(client, alice)
    page = text(client.get(url))
    assert "Delete the workspace “Doomed”?" in page
    # Audit: the workspace, then the model, two agents and the crew were created.
    for line in ("1 crew", "2 agents", "1 model", "2 memberships", "1 invitation", "5 audit log lines"):
        assert f"<li>{line}</li>" in page

    wrong = client.post(url, {"confirm_name": "doomed"})
    assert wrong.status_code == 400 and "Type the workspace's name, “Doomed”, to confirm." in text(wrong)
    assert Workspace.objects.filter(pk=team.pk).exists() and Crew.objects.filter(workspace=team).count() == 1

    done = client.post(url, {"confirm_name": "Doomed"}, follow=True)
    assert "Deleted the workspace “Doomed” and everything in it." in text(done)
    assert not Workspace.objects.filter(pk=team.pk).exists()
    for model in (Crew, AgentDef, ModelEndpoint, Invitation, AuditEvent):
        assert not model.objects.filter(workspace_id=team.pk).exists()
    assert not Membership.objects.filter(workspace_id=team.pk).exists()


def test_only_an_owner_deletes_and_not_while_runs_go(client, alice, bob, charlie, stocked_team):
    team = stocked_team
    url = f"/workspaces/{team.public_id}/delete/"
    assert logged_in(client, bob).get(url).status_code == 403
    assert logged_in(client, bob).post(url, {"confirm_name": "Doomed"}).status_code == 403
    assert logged_in(client, charlie).post(url, {"confirm_name": "Doomed"}).status_code == 404

    Run.objects.create(workspace=team, crew_name="Pair", crew_snapshot={}, status=RunStatus.RUNNING)
    refused = logged_in(client, alice).post(url, {"confirm_name": "Doomed"})
    assert refused.status_code == 400 and "1 run of this workspace is still going" in text(refused)
    assert Workspace.objects.filter(pk=team.pk).exists()


def test_the_personal_workspace_cannot_be_deleted_or_left(client, alice):
    personal = alice.personal_workspace
    logged_in(client, alice)
    page = text(client.get(f"/workspaces/{personal.public_id}/delete/"))
    assert "Your personal workspace cannot be deleted" in page
    refused = client.post(f"/workspaces/{personal.public_id}/delete/", {"confirm_name": personal.name})
    assert refused.status_code == 400 and "it cannot be deleted" in text(refused)
    left = client.post(f"/workspaces/{personal.public_id}/leave/", follow=True)
    assert "you cannot leave it" in text(left)
    assert role_of(alice, personal) == OWNER


# --- the switcher ----------------------------------------------------------------------------------


def test_the_header_switcher_lists_workspaces_and_switches(client, alice, bob):
    team = make_team(bob, "Bob's team", alice=VIEWER)
    logged_in(client, alice)
    header = text(client.get("/"))
    assert '<span class="workspace">alice\'s workspace</span>' in header
    assert f'name="workspace" value="{team.public_id}"' in header
    assert f'name="workspace" value="{alice.personal_workspace.public_id}" aria-current="true"' in header

    response = client.post("/workspaces/switch/", {"workspace": str(team.public_id), "next": "/crews/"})
    assert response.status_code == 302 and response.url == "/crews/"
    assert chosen(client) == str(team.public_id)
    home = text(client.get("/"))
    assert "<h1>Bob's team</h1>" in home and "Viewer" in home

    # Back to the personal workspace: the stored choice is dropped (personal is the default).
    client.post("/workspaces/switch/", {"workspace": str(alice.personal_workspace.public_id)})
    assert chosen(client) is None
    assert "<h1>alice's workspace</h1>" in text(client.get("/"))


def test_switching_to_a_foreign_or_made_up_workspace_is_404_and_changes_nothing(client, alice, bob):
    team = make_team(alice, "Research")
    logged_in(client, alice)
    client.post("/workspaces/switch/", {"workspace": str(team.public_id)})
    for value in (str(bob.personal_workspace.public_id), str(uuid.uuid4()), "not-a-uuid", ""):
        assert client.post("/workspaces/switch/", {"workspace": value}).status_code == 404
        assert chosen(client) == str(team.public_id)


def test_an_offsite_next_is_ignored(client, alice):
    logged_in(client, alice)
    response = client.post("/workspaces/switch/", {"workspace": str(alice.personal_workspace.public_id),
                                                   "next": "https://evil.example/steal"})
    assert response.status_code == 302 and response.url == "/"


def test_a_foreign_workspace_planted_in_the_session_falls_back_to_personal(client, alice, bob):
    secret_team = make_team(bob, "Bob's secret")
    logged_in(client, alice)
    session = client.session
    session[SESSION_KEY] = str(secret_team.public_id)
    session.save()

    home = text(client.get("/"))
    assert "<h1>alice's workspace</h1>" in home
    assert "Bob's secret" not in home
    assert chosen(client) is None  # the stale choice was dropped

    for junk in ("not-a-uuid", str(uuid.uuid4())):
        session = client.session
        session[SESSION_KEY] = junk
        session.save()
        assert "<h1>alice's workspace</h1>" in text(client.get("/"))
        assert chosen(client) is None


def test_the_choice_falls_back_once_the_membership_ends(client, alice, bob):
    team = make_team(bob, "Bob's team", alice=EDITOR)
    logged_in(client, alice)
    client.post("/workspaces/switch/", {"workspace": str(team.public_id)})
    assert "<h1>Bob's team</h1>" in text(client.get("/"))

    Membership.objects.filter(workspace=team, user=alice).delete()  # bob removed her
    home = text(client.get("/"))
    assert "<h1>alice's workspace</h1>" in home and "Bob's team" not in home


def test_current_workspace_reads_the_session_with_the_same_signature(alice, bob):
    team = make_team(bob, "Bob's team", alice=VIEWER)
    request = RequestFactory().get("/")
    request.user = alice
    request.session = {SESSION_KEY: str(team.public_id)}
    workspace = current_workspace(request)
    assert workspace == team and workspace.role == Role.VIEWER
    # Without a session (e.g. a bare request object) it is the personal workspace, as before.
    bare = RequestFactory().get("/")
    bare.user = alice
    assert current_workspace(bare) == alice.personal_workspace
