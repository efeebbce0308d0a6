"""The runs lists (a workspace's, one crew's, with filters) and the crew page's Run panel, through
Django's test client."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from studio.runs import services
from studio.runs.models import Run, RunStatus
from tests.factories import WorkspaceFactory, add_member
from tests.runs.support import execute_here, human_crew, make_agent, replay_model, workspace_of

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed(html: str) -> list[tuple[str, str]]:
    """(run id, status) of every row of the runs table, in order."""
    return re.findall(r'<tr data-run="([0-9a-f-]+)" data-status="([a-z_]+)">', html)


def finished_crew(workspace, user, name: str):
    """A crew whose runs end by themselves: helper on Replay ↔ me (NEVER, one auto-reply)."""
    model = replay_model(workspace, user, name=f"{name} model", replies=["Done. TERMINATE"])
    helper = make_agent(workspace, user, name=f"{name.lower()}_helper", model=model, system_message="You help.")
    me = make_agent(workspace, user, name=f"{name.lower()}_me", kind="user_proxy", human_input_mode="NEVER",
                    max_consecutive_auto_reply=1)
    from studio.crews import services as crews

    return crews.create_crew(workspace, user=user, name=name, kind="two_agent", initiator=me, recipient=helper,
                             task=f"{name} task")


def test_the_workspace_runs_list_filters_by_status_and_crew(alice, bob):
    ws = workspace_of(alice)
    asking, finishing = human_crew(ws, alice, name="Asking"), finished_crew(ws, alice, "Finishing")
    waiting = services.start_run(asking, user=alice)
    execute_here(waiting)
    done = services.start_run(finishing, user=alice)
    assert execute_here(done) == RunStatus.COMPLETED
    queued = services.start_run(finishing, user=alice, task="Later.")
    elsewhere = services.start_run(human_crew(workspace_of(bob), bob, name="Bob's"), user=bob)
    client = client_for(alice)

    everything = client.get(reverse("runs:list")).content.decode()
    assert listed(everything) == [(str(queued.public_id), "queued"), (str(done.public_id), "completed"),
                                  (str(waiting.public_id), "awaiting_input")]
    assert str(elsewhere.public_id) not in everything  # bob's workspace
    assert 'aria-current="page">Runs</a>' in everything and "Finishing task" in everything

    active = client.get(reverse("runs:list"), {"status": "active"}).content.decode()
    assert [status for _, status in listed(active)] == ["queued", "awaiting_input"]
    by_crew = client.get(reverse("runs:list"), {"crew": str(finishing.public_id), "status": "completed"},
                         HTTP_HX_REQUEST="true").content.decode()
    assert by_crew.lstrip().startswith('<div id="runs-table">') and "<html" not in by_crew  # htmx: the table only
    assert listed(by_crew) == [(str(done.public_id), "completed")]
    nothing = client.get(reverse("runs:list"), {"status": "failed"}).content.decode()
    assert listed(nothing) == [] and "No runs match" in nothing
    assert client.get(reverse("runs:list"), {"status": "bogus"}).status_code == 200  # ignored, not an error

    hidden = WorkspaceFactory(name="Hidden")
    add_member(hidden, bob, "owner")
    other_crew = human_crew(hidden, bob, name="Hidden")
    assert client.get(reverse("runs:list"), {"crew": str(other_crew.public_id)}).status_code == 404
    assert Client().get(reverse("runs:list")).status_code == 302  # to the login page


def test_a_crews_runs_list_is_reached_from_its_workspace_even_when_another_is_current(alice, bob):
    team = WorkspaceFactory(name="Team")
    add_member(team, alice, "viewer")
    add_member(team, bob, "owner")
    crew = human_crew(team, bob, name="Shared crew")
    run = services.start_run(crew, user=bob)

    page = client_for(alice).get(reverse("runs:list"), {"crew": str(crew.public_id)}).content.decode()
    assert listed(page) == [(str(run.public_id), "queued")] and "Runs of Shared crew" in page


def test_the_crew_page_has_a_run_form_with_the_default_task_and_its_latest_runs(alice, charlie):
    team = WorkspaceFactory()
    add_member(team, alice, "owner")
    add_member(team, charlie, "viewer")
    crew = human_crew(team, alice, name="Picnic", task="Plan a picnic for <b>ten</b>.")
    url = reverse("crews:crew_detail", args=[crew.public_id])

    page = client_for(alice).get(url).content.decode()
    form = re.search(r'<form class="run-start" method="post" action="([^"]+)">(.*?)</form>', page, re.S)
    assert form and form.group(1) == reverse("runs:start", args=[crew.public_id])
    assert "Plan a picnic for &lt;b&gt;ten&lt;/b&gt;.</textarea>" in form.group(2)
    assert 'name="csrfmiddlewaretoken"' in form.group(2) and "No runs yet." in page
    assert f'href="/runs/?crew={crew.public_id}"' in page

    started = client_for(alice).post(form.group(1), {"task": "Plan a walk."})
    run = Run.objects.get(crew=crew)
    assert started.status_code == 302 and started["Location"] == reverse("runs:detail", args=[run.public_id])
    assert run.task == "Plan a walk." and run.started_by == alice

    watcher = client_for(charlie).get(url).content.decode()
    assert 'class="run-start"' not in watcher and "Starting runs needs the runner role" in watcher
    assert f'href="/runs/{run.public_id}/"' in watcher  # the latest runs, for everyone who may see them


def test_a_crew_that_cannot_run_has_its_run_button_disabled(alice):
    from studio.crews import services as crews
    from studio.crews.services import run_problems
    from tests.runs.support import make_model

    ws = workspace_of(alice)
    model = make_model(ws, alice, name="Keyless")
    model.clear_key()  # e.g. a crew copied from another workspace: keys are not copied
    model.save()
    helper = make_agent(ws, alice, name="helper", model=model)
    me = make_agent(ws, alice, name="me", kind="user_proxy", human_input_mode="NEVER")
    crew = crews.create_crew(ws, user=alice, name="Keyless crew", kind="two_agent", initiator=me, recipient=helper)
    assert run_problems(crew)

    page = client_for(alice).get(reverse("crews:crew_detail", args=[crew.public_id])).content.decode()
    assert re.search(r'<button type="submit" class="button primary" disabled title="This crew cannot run yet', page)
    assert "Leave empty to be asked when the run starts" in page  # no default task
