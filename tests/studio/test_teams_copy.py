"""Copying a crew into another workspace: keys stay behind, rights are checked on both sides, both
audit logs get a line, and refusals say why and copy nothing."""

from __future__ import annotations

import pytest
from django.http import Http404
from django.template import Context, Template
from django.test import RequestFactory

from studio.accounts.models import AuditEvent
from studio.crews import services
from studio.crews.copying import CopyRefused, copy_crew_to_workspace, copy_targets
from studio.crews.models import AgentDef, Crew, ModelEndpoint
from tests.studio.crews_support import SECRET, make_agent, make_model, two_agent_crew
from tests.studio.teams_support import EDITOR, RUNNER, VIEWER, actions, chosen, logged_in, make_team, text

pytestmark = pytest.mark.django_db


def build_pair(workspace, user, name: str = "Pair") -> Crew:
    model = make_model(workspace, user, name="GPT")  # an OpenAI model with a key
    writer = make_agent(workspace, user, name="writer", model=model, system_message="Write it well.")
    proxy = make_agent(workspace, user, name="proxy", kind="user_proxy")
    return two_agent_crew(workspace, user, proxy, writer, name=name, task="Write a haiku")


@pytest.fixture
def pair(alice):
    return build_pair(alice.personal_workspace, alice)


def copy_url(crew) -> str:
    return f"/workspaces/copy-crew/{crew.public_id}/"


def test_copy_into_a_team_brings_agents_and_models_but_no_key(alice, pair):
    team = make_team(alice, "Research")
    assert services.run_problems(pair) == []

    result = copy_crew_to_workspace(pair, team, alice)

    copy = result.crew
    assert copy.workspace == team and copy.name == "Pair" and copy.task == "Write a haiku" and copy.pk != pair.pk
    assert copy.initiator.workspace == team and copy.recipient.name == "writer"
    assert copy.recipient.system_message == "Write it well."
    copied_model = ModelEndpoint.objects.get(workspace=team, name="GPT")
    assert not copied_model.has_key and copied_model.reveal_key() is None
    assert result.needs_key == ["GPT"]
    assert services.run_problems(copy) == ["The model “GPT” has no API key; set one on the model's page."]
    # The original keeps its key and is untouched.
    original_model = ModelEndpoint.objects.get(workspace=alice.personal_workspace, name="GPT")
    assert original_model.reveal_key() == SECRET and services.run_problems(pair) == []
    assert AgentDef.objects.filter(workspace=alice.personal_workspace).count() == 2

    out = AuditEvent.objects.get(workspace=alice.personal_workspace, action="crew.copied_out")
    assert out.target_id == str(pair.public_id) and "Research" not in str(out.details)
    into = AuditEvent.objects.get(workspace=team, action="crew.copied_in")
    assert into.target_id == str(copy.public_id) and into.details == {"source_name": "Pair", "needs_key": ["GPT"]}


def test_the_copy_page_copies_switches_and_reports_the_missing_key(client, alice, pair):
    team = make_team(alice, "Research")
    logged_in(client, alice)
    page = text(client.get(copy_url(pair)))
    assert f'<option value="{team.public_id}"' in page
    assert f'<option value="{alice.personal_workspace.public_id}"' not in page  # not into its own workspace

    response = client.post(copy_url(pair), {"target": str(team.public_id)})
    copy = Crew.objects.get(workspace=team)
    assert response.status_code == 302 and response.url == f"/crews/{copy.public_id}/"
    assert chosen(client) == str(team.public_id)
    followed = text(client.get(response.url))
    assert "Copied “Pair” into “Research”." in followed
    assert "Model “GPT” needs an API key before the crew can run." in followed
    assert actions(team)[-1] == "crew.copied_in"


def test_a_viewer_of_a_team_copies_its_crew_into_their_own_workspace(client, alice, bob):
    team = make_team(alice, "Research", bob=VIEWER)
    crew = build_pair(team, alice)
    response = logged_in(client, bob).post(copy_url(crew), {"target": str(bob.personal_workspace.public_id)})
    assert response.status_code == 302
    assert Crew.objects.filter(workspace=bob.personal_workspace, name="Pair").exists()
    assert "crew.copied_out" in actions(team)


def test_copying_into_a_workspace_without_edit_rights_is_refused_and_copies_nothing(client, alice, bob, charlie):
    team = make_team(alice, "Research", bob=RUNNER)
    crew = build_pair(bob.personal_workspace, bob)
    before = Crew.objects.count()
    logged_in(client, bob)
    for target in (team, charlie.personal_workspace):  # a runner there; no member at all
        response = client.post(copy_url(crew), {"target": str(target.public_id)})
        assert response.status_code == 400
        assert "You can only copy a crew into a workspace where you are an editor or owner." in text(response)
    # bob has no workspace he can edit besides the crew's own: the form says so up front.
    page = text(client.get(copy_url(crew)))
    assert "You have no other workspace where you are an editor or owner." in page
    assert Crew.objects.count() == before
    assert not AuditEvent.objects.filter(action__startswith="crew.copied").exists()

    with pytest.raises(CopyRefused, match="editor or owner"):
        copy_crew_to_workspace(crew, team, bob)
    with pytest.raises(CopyRefused, match="already in"):
        copy_crew_to_workspace(crew, bob.personal_workspace, bob)
    assert Crew.objects.count() == before


def test_an_outsider_cannot_copy_or_see_the_copy_form(client, alice, charlie, pair):
    logged_in(client, charlie)
    assert client.get(copy_url(pair)).status_code == 404
    response = client.post(copy_url(pair), {"target": str(charlie.personal_workspace.public_id)})
    assert response.status_code == 404
    assert not Crew.objects.filter(workspace=charlie.personal_workspace).exists()
    with pytest.raises(Http404):
        copy_crew_to_workspace(pair, charlie.personal_workspace, charlie)


def test_copy_targets_are_the_editable_workspaces_but_the_crews_own(alice, bob, charlie):
    team = make_team(alice, "Research", bob=EDITOR)
    make_team(charlie, "Alpha", bob=EDITOR)
    make_team(charlie, "Watchers", bob=VIEWER)
    make_team(bob, "Bob's own")
    crew = build_pair(team, alice, name="Team pair")
    names = [w.name for w in copy_targets(bob, crew)]
    assert names == ["bob's workspace", "Alpha", "Bob's own"]  # personal first, then by name
    assert [w.name for w in copy_targets(alice, crew)] == ["alice's workspace"]


def test_the_partial_renders_for_the_crew_pages(alice, pair):
    team = make_team(alice, "Research")
    request = RequestFactory().get("/")
    request.user = alice
    html = Template("{% load teams %}{% copy_crew_form crew %}").render(Context({"request": request, "crew": pair,
                                                                              "csrf_token": "tok"}))
    assert f'action="/workspaces/copy-crew/{pair.public_id}/"' in html
    assert f'<option value="{team.public_id}"' in html and "Copy the crew" in html
    assert 'name="csrfmiddlewaretoken" value="tok"' in html
