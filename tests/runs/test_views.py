"""The thin POST endpoints (start, reply, cancel) and the minimal run page, through Django's
test client: JSON for scripts, fragments for htmx, and the workspace roles."""

from __future__ import annotations

import threading

import pytest
from django.test import Client
from django.urls import reverse

from studio.runs import services
from studio.runs.models import Message, Run, RunStatus
from tests.factories import UserFactory, WorkspaceFactory, add_member
from tests.runs.support import execute_here, human_crew, transcript

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def team(alice, bob, charlie):
    """alice owns it, bob may run crews, charlie only watches."""
    workspace = WorkspaceFactory()
    add_member(workspace, alice, "owner")
    add_member(workspace, bob, "runner")
    add_member(workspace, charlie, "viewer")
    return workspace


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def waiting_run(team, user) -> tuple[Run, object]:
    run = services.start_run(human_crew(team, user), user=user)
    execute_here(run)
    run.refresh_from_db()
    return run, services.open_request(run)


def reply_url(run, question) -> str:
    return reverse("runs:reply", args=[run.public_id, question.public_id])


def test_starting_a_run_queues_it_for_a_worker(team, alice, bob, charlie, queued):
    crew = human_crew(team, alice)
    url = reverse("runs:start", args=[crew.public_id])

    started = client_for(bob).post(url, {"task": "Plan a party."}, HTTP_ACCEPT="application/json")
    assert started.status_code == 201, started.content
    run = Run.objects.get(public_id=started.json()["run"])
    assert (run.task, run.started_by, run.status, run.workspace) == ("Plan a party.", bob, RunStatus.QUEUED, team)
    assert started.json()["url"] == reverse("runs:detail", args=[run.public_id])
    assert queued() == [("workers.tasks.start_run", [str(run.public_id)])]

    htmx = client_for(alice).post(url, {}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and htmx["HX-Redirect"].startswith("/runs/")
    assert Run.objects.order_by("-id").first().task == "Plan a picnic."  # the crew's own task

    form = client_for(bob).post(url, {"task": "Plan a walk."})  # a plain form: off to the run page
    assert form.status_code == 302 and form["Location"] == reverse("runs:detail", args=[Run.objects.order_by("-id").first().public_id])

    assert client_for(charlie).post(url).status_code == 403  # viewers watch, they do not run
    outsider = client_for(UserFactory(username="dave"))
    assert outsider.post(url).status_code == 404
    assert Client().post(url).status_code == 302  # to the login page


def test_the_run_page_shows_the_transcript_and_the_question(team, alice, charlie):
    run, question = waiting_run(team, alice)

    page = client_for(alice).get(reverse("runs:detail", args=[run.public_id]))
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('data-seq="') == 2 and f'ws-connect="/ws/runs/{run.public_id}/"' in html
    assert f'data-request="{question.public_id}"' in html and 'value="end"' in html
    assert 'data-status="awaiting_input"' in html and "Waiting for you" in html

    watcher = client_for(charlie).get(reverse("runs:detail", args=[run.public_id])).content.decode()
    assert "Only members with the runner role can answer." in watcher and 'value="end"' not in watcher


def test_replies_are_checked_answered_once_and_refused_to_viewers(team, alice, bob, charlie):
    run, question = waiting_run(team, alice)
    url = reply_url(run, question)

    assert client_for(charlie).post(url, {"action": "reply", "answer": "x"}).status_code == 403
    empty = client_for(bob).post(url, {"action": "reply", "answer": ""})
    assert empty.status_code == 400 and "Type a reply" in empty.json()["message"]

    accepted = client_for(bob).post(url, {"action": "reply", "answer": "Lemonade."})
    assert accepted.status_code == 200 and accepted.json() == {"ok": True, "message": "Thanks, the run continues.",
                                                               "answered_by": "bob"}
    again = client_for(alice).post(url, {"action": "end"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and "Already answered by bob." in again.content.decode()
    assert 'id="run-notice"' in again.content.decode()


def test_two_concurrent_replies_make_exactly_one_continuation(team, alice, bob, queued):
    run, question = waiting_run(team, alice)
    url = reply_url(run, question)
    barrier = threading.Barrier(2)
    answers: dict[str, object] = {}

    def reply(user, text):
        from django.db import connection

        client = client_for(user)
        barrier.wait(timeout=10)
        try:
            answers[user.username] = client.post(url, {"action": "reply", "answer": text})
        finally:
            connection.close()

    threads = [threading.Thread(target=reply, args=(alice, "From alice.")),
               threading.Thread(target=reply, args=(bob, "From bob."))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)

    codes = sorted(response.status_code for response in answers.values())
    assert codes == [200, 409]
    winner = next(name for name, response in answers.items() if response.status_code == 200)
    loser = next(response for response in answers.values() if response.status_code == 409)
    assert loser.json()["message"] == f"Already answered by {winner}."
    continuations = [task for task in queued() if task[0] == "workers.tasks.continue_run"]
    assert continuations == [("workers.tasks.continue_run", [str(run.public_id)])]

    assert execute_here(run) == RunStatus.AWAITING_INPUT
    assert execute_here(run) == "not claimed"  # a second delivery would have nothing to continue
    humans = list(Message.objects.filter(run=run, from_human=True).values_list("content", "author__username"))
    assert humans == [(f"From {winner}.", winner)]
    assert sum(1 for row in transcript(run) if row[3].startswith("From ")) == 1


def test_cancel_endpoint(team, alice, charlie):
    run, _ = waiting_run(team, alice)
    url = reverse("runs:cancel", args=[run.public_id])

    assert client_for(charlie).post(url).status_code == 403
    cancelled = client_for(alice).post(url)
    assert cancelled.status_code == 200 and cancelled.json()["status_now"] == "cancelled"
    assert client_for(alice).post(url).status_code == 409
