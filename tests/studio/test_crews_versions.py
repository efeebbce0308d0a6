"""Versions: every service save records one; diffs read as words; restoring is a new version."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from studio.crews import services
from studio.crews.models import AgentDef
from studio.crews.versions import diff_versions, list_versions, restore_version
from tests.studio.crews_support import group_crew, make_agent, make_model, workspace_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(alice):
    ws = workspace_of(alice)
    model = make_model(ws, alice)
    a = make_agent(ws, alice, name="alpha", model=model, system_message="First prompt.")
    b = make_agent(ws, alice, name="beta", model=model)
    c = make_agent(ws, alice, name="gamma", kind="user_proxy", human_input_mode="TERMINATE")
    crew = group_crew(ws, alice, [a, b], name="Trio")
    return ws, model, a, b, c, crew


def test_agent_versions_diff_and_restore(alice, setup):
    ws, model, alpha, *_ = setup
    alpha.system_message = "Second prompt."
    alpha.temperature = None
    alpha.termination_rule = "contains"
    services.save_agent(alpha, user=alice)
    versions = list(list_versions(alpha))
    assert [v.number for v in versions] == [2, 1]
    assert versions[1].summary == "Created" and versions[0].author == alice
    assert versions[0].summary == "Changed Agent: system message, Agent: termination rule"

    changes = diff_versions(versions[1], versions[0])
    assert [str(c) for c in changes] == [
        "Agent: system message: “First prompt.” → “Second prompt.”",
        "Agent: termination rule: “default” → “contains”",
    ]

    restored, notes = restore_version(versions[1], user=alice)
    assert notes == []
    assert AgentDef.objects.get(pk=alpha.pk).system_message == "First prompt."
    latest = list_versions(alpha).first()
    assert (latest.number, latest.summary) == (3, "Restored version 1")
    assert diff_versions(versions[1], latest) == []


def test_crew_versions_restore_members_and_recreate_a_deleted_agent(alice, setup):
    ws, model, alpha, beta, gamma, crew = setup
    services.add_member(crew, gamma, user=alice)
    crew.max_round = 4
    crew.speaker_selection = "manual"
    services.save_crew(crew, user=alice)
    history = list(list_versions(crew))
    assert [v.summary for v in history] == ["Changed Group chat: max round, Group chat: speaker selection",
                                            "Added gamma", "Created"]
    assert [str(c) for c in diff_versions(history[2], history[1])] == [
        "Group chat: members: “['alpha', 'beta']” → “['alpha', 'beta', 'gamma']”",
        "Agent gamma: added",
    ]

    restored, notes = restore_version(history[2], user=alice)
    assert [a.name for a in restored.ordered_members()] == ["alpha", "beta"] and notes == []
    assert (restored.max_round, restored.speaker_selection) == (10, "round_robin")
    assert list_versions(crew).first().summary == "Restored version 1"

    # gamma is free to stop taking human input now; then the manual-selection version cannot come back.
    gamma.human_input_mode = "NEVER"
    services.save_agent(gamma, user=alice)
    with pytest.raises(ValidationError) as excinfo:
        restore_version(history[0], user=alice)
    assert "takes human input" in excinfo.value.message_dict["speaker_selection"][0]

    # An agent deleted since the version comes back.
    services.delete_agent(beta, user=alice)
    crew.refresh_from_db()
    restored, notes = restore_version(history[1], user=alice)
    assert [a.name for a in restored.ordered_members()] == ["alpha", "beta", "gamma"]
    assert notes == ["Agent beta no longer existed and was re-created as beta.",
                     "Agent gamma keeps its current settings; restore one of its own versions to roll it back."]

    alpha.system_message = "Changed since."
    services.save_agent(alpha, user=alice)
    _, notes = restore_version(history[1], user=alice)
    assert [n.split(" keeps")[0] for n in notes] == ["Agent alpha", "Agent gamma"]
    assert list_versions(crew).first().number == 7
