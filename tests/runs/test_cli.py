"""`manage.py run_crew`: the same step loop, run in the command's process, answering at the terminal."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from studio.runs.models import HumanInputRequest, Message, Run, RunStatus
from tests.runs.support import human_crew, workspace_of

pytestmark = pytest.mark.django_db(transaction=True)


def run_crew(*args: str, stdin: str = "", **options) -> str:
    out = io.StringIO()
    call_command("run_crew", *args, stdout=out, stdin=io.StringIO(stdin), **options)
    return out.getvalue()


def test_run_crew_prints_the_transcript_and_asks_at_the_terminal(alice):
    human_crew(workspace_of(alice), alice)

    out = run_crew("Ask me", "--message", "Plan a hike.", "--user", "alice", stdin="Bring water.\n\nexit\n")

    run = Run.objects.get()
    assert run.status == RunStatus.COMPLETED and run.started_by == alice and run.task == "Plan a hike."
    assert "── #1 me → helper ──\nPlan a hike." in out
    assert "── #3 me → helper ──\nBring water." in out and "── #5 me → helper ──\ncarry on" in out
    assert out.count("me asks you:") == 3
    assert "Run completed: the human of agent 'me' ended the chat. 6 messages, " in out
    actions = list(HumanInputRequest.objects.filter(run=run).values_list("action", flat=True))
    assert actions == ["reply", "continue", "end"]
    assert Message.objects.filter(run=run, from_human=True, author=alice).count() == 1


def test_run_crew_without_input_ends_the_conversation(alice):
    human_crew(workspace_of(alice), alice)
    out = run_crew("Ask me", stdin="")
    assert "Run completed" in out and Run.objects.get().last_seq == 2


def test_run_crew_runs_the_gallery_demo():
    from studio.crews.gallery import load_gallery

    load_gallery()
    out = run_crew("Demo (no API key)", "--message", "hello")

    assert "── #1 runner → coder ──\nhello" in out
    assert "(code output)" in out and "sum: 328" in out
    assert "there are 15 primes below 50" in out and "Run completed" in out
    run = Run.objects.get()
    assert run.status == RunStatus.COMPLETED and run.started_by is None


def test_run_crew_explains_unknown_and_ambiguous_names(alice, bob):
    human_crew(workspace_of(alice), alice)
    with pytest.raises(CommandError, match="No crew named “Nope”"):
        run_crew("Nope")
    human_crew(workspace_of(bob), bob)
    with pytest.raises(CommandError, match="Several workspaces have a crew named “Ask me”"):
        run_crew("Ask me")
    out = run_crew("Ask me", "--workspace", workspace_of(bob).name, stdin="exit\n")
    assert Run.objects.get().workspace == workspace_of(bob) and "Run completed" in out
