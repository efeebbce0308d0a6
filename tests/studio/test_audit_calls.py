"""Audit lines written by the services: created / changed / deleted models, agents and crews, runs
started, answered and stopped. Each line is written in the transaction of its change, so a change
that is refused leaves no line, and each names only its own workspace."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from studio.accounts import audit
from studio.accounts.models import AuditEvent
from studio.crews import services
from studio.crews.models import AgentDef
from studio.runs import services as run_services
from tests.runs.support import execute_here, human_crew
from tests.studio.crews_support import SECRET, group_crew, make_agent, make_model, replay_model
from tests.studio.pages_support import client_for, url
from tests.studio.teams_support import EDITOR, RUNNER, make_team, text

pytestmark = pytest.mark.django_db


def lines(workspace, prefix: str = "") -> list[tuple[str, str, str]]:
    """(action, actor, target label) of the workspace's lines, oldest first."""
    rows = AuditEvent.objects.filter(workspace=workspace, action__startswith=prefix).order_by("created_at", "id")
    return [(row.action, row.actor_label, row.target_label) for row in rows]


def test_models_agents_and_crews_record_who_created_changed_and_deleted_them(alice, bob):
    team = make_team(alice, "Research", bob=EDITOR)
    model = make_model(team, bob, name="GPT")
    writer = make_agent(team, bob, name="writer", model=model)
    proxy = make_agent(team, alice, name="proxy", kind="user_proxy")
    crew = group_crew(team, bob, [writer, proxy], name="Pair")
    model.temperature = 0.5
    services.save_model(model, user=alice, api_key="sk-new-key-9999")
    services.reorder_members(crew, [proxy.public_id, writer.public_id], user=alice)
    services.delete_crew(crew, user=bob)
    services.delete_agent(writer, user=alice)

    assert lines(team, "model.") + lines(team, "agent.") + lines(team, "crew.") == [
        ("model.created", "bob", "GPT"), ("model.changed", "alice", "GPT"),
        ("agent.created", "bob", "writer"), ("agent.created", "alice", "proxy"), ("agent.deleted", "alice", "writer"),
        ("crew.created", "bob", "Pair"), ("crew.changed", "alice", "Pair"), ("crew.deleted", "bob", "Pair"),
    ]
    changed = AuditEvent.objects.get(workspace=team, action="model.changed")
    assert changed.details == {"key": "set"}  # that the key changed, never the key
    assert "sk-new-key-9999" not in str(AuditEvent.objects.values_list("details", "target_label"))
    assert SECRET not in str(AuditEvent.objects.values_list("details", "target_label"))
    reordered = AuditEvent.objects.get(workspace=team, action="crew.changed")
    assert reordered.details["summary"] == "Reordered members: proxy, writer"


def test_a_refused_change_leaves_no_line(alice):
    team = make_team(alice, "Research")
    me = make_agent(team, alice, name="me", kind="user_proxy", human_input_mode="ALWAYS")
    helper = make_agent(team, alice, name="helper", model=replay_model(team, alice))
    group_crew(team, alice, [me, helper], name="Manual", speaker_selection="manual")
    before = lines(team)

    me.human_input_mode = "NEVER"  # the crew would lose its only human: saved, then refused
    with pytest.raises(ValidationError, match="Manual selection needs a member that takes human input"):
        services.save_agent(me, user=alice)
    assert lines(team) == before
    assert AgentDef.objects.get(pk=me.pk).human_input_mode == "ALWAYS"


def test_the_pages_record_their_user(client, alice, bob):
    team = make_team(alice, "Research", bob=EDITOR)
    bobs = client_for(bob)
    bobs.post("/workspaces/switch/", {"workspace": str(team.public_id)})
    created = bobs.post(url("model_create"), {"name": "Local", "provider": "replay", "model": "replay"})
    assert created.status_code == 302
    model = team.audit_events.get(action="model.created")
    bobs.post(url("model_delete", model.target_id))
    assert lines(team, "model.") == [("model.created", "bob", "Local"), ("model.deleted", "bob", "Local")]


def test_runs_record_started_answered_and_stopped_with_their_crew(client, alice, bob):
    team = make_team(alice, "Research", bob=RUNNER)
    other = make_team(alice, "Elsewhere")
    run = run_services.start_run(human_crew(team, alice, name="Picnic"), user=alice, dispatch=False)
    execute_here(run)
    run.refresh_from_db()
    question = run_services.open_request(run)
    assert run_services.reply_to_request(question, user=bob, action="reply", text="Lemonade.", dispatch=False).accepted
    assert not run_services.reply_to_request(question, user=alice, action="end", dispatch=False).accepted  # too late
    run.refresh_from_db()
    assert run_services.cancel_run(run, user=alice)

    assert [(action, actor) for action, actor, _ in lines(team, "run.")] == [
        ("run.started", "alice"), ("run.replied", "bob"), ("run.cancelled", "alice")]
    replied = AuditEvent.objects.get(action="run.replied")
    assert replied.details == {"crew": "Picnic", "agent": "me", "answer_kind": "reply"}
    assert "Lemonade." not in str(replied.details)  # what was said stays in the transcript
    assert lines(other, "run.") == []

    page = text(client_for(alice).get(f"/workspaces/{team.public_id}/audit/"))
    for sentence in ("started a run of “Picnic”", "answered me in a run of “Picnic”", "stopped a run of “Picnic”"):
        assert sentence in page
    assert audit.describe(AuditEvent.objects.get(action="crew.created")) == "created crew “Picnic”"
