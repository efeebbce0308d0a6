"""The audit log: `audit.record` (the one function other apps call), its checks, and the page."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from studio.accounts import audit
from studio.accounts.audit import Action
from studio.accounts.models import AuditEvent, Workspace
from studio.accounts.views_teams import AUDIT_PAGE_SIZE
from tests.studio.crews_support import make_agent, make_model, two_agent_crew
from tests.studio.teams_support import VIEWER, logged_in, make_team, text

pytestmark = pytest.mark.django_db


def test_record_keeps_actor_target_and_details(alice):
    team = make_team(alice, "Research")
    writer = make_agent(team, alice, name="writer", model=make_model(team, alice))
    proxy = make_agent(team, alice, name="proxy", kind="user_proxy")
    crew = two_agent_crew(team, alice, proxy, writer, name="Pair")

    event = audit.record(team, alice, Action.CREW_CHANGED, crew, fields=["task"], when=timezone.now(),
                         ref=uuid.UUID(int=7))
    event.refresh_from_db()
    assert (event.workspace, event.actor, event.actor_label, event.action) == (team, alice, "alice", "crew.changed")
    assert (event.target_type, event.target_id, event.target_label) == ("crew", str(crew.public_id), "Pair")
    assert event.details["fields"] == ["task"] and event.details["ref"] == str(uuid.UUID(int=7))
    # Names are kept as they were: renaming or deleting later does not rewrite the line.
    crew.delete()
    alice.username = "alice2"
    alice.save()
    event.refresh_from_db()
    assert event.target_label == "Pair" and event.actor_label == "alice"
    assert audit.describe(event) == "changed crew “Pair”"  # a generic line for actions other apps add


def test_record_without_actor_or_target_is_parley_itself(alice):
    team = make_team(alice, "Research")
    for actor in (None, AnonymousUser()):
        event = audit.record(team, actor, "run.recovered")
        assert event.actor is None and event.actor_label == "" and event.target_type == ""
    assert audit.describe(event) == "recovered run"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"workspace": None}, TypeError, "workspace must be a saved Workspace"),
        ({"workspace": Workspace(name="unsaved")}, TypeError, "workspace must be a saved Workspace"),
        ({"action": "Crew Changed"}, ValueError, "action must be a dotted lower-case name"),
        ({"action": "crew"}, ValueError, "action must be a dotted lower-case name"),
        ({"action": "crew." + "x" * 70}, ValueError, "action must be a dotted lower-case name"),
        ({"target": "Pair"}, TypeError, "target must be a saved model instance"),
        ({"details": {"blob": object()}}, TypeError, "details must be JSON-ready"),
        ({"actor": "alice"}, TypeError, "actor must be a User or None"),
    ],
)
def test_record_names_the_bad_argument(alice, kwargs, error, message):
    team = make_team(alice, "Research")
    call = {"workspace": team, "actor": alice, "action": "crew.changed", "target": None, "details": {}}
    call.update(kwargs)
    if isinstance(call["actor"], str):
        call["actor"] = type("Impostor", (), {"is_authenticated": True})()
    details = call.pop("details")
    before = AuditEvent.objects.count()
    with pytest.raises(error, match=message):
        audit.record(call["workspace"], call["actor"], call["action"], call["target"], **details)
    assert AuditEvent.objects.count() == before


def test_the_page_shows_its_own_workspace_only_newest_first(client, alice, bob, charlie):
    team = make_team(alice, "Research", bob=VIEWER)
    other = make_team(charlie, "Elsewhere")
    audit.record(other, charlie, "crew.changed", other, secret="charlie's plan")
    audit.record(team, alice, Action.ROLE_CHANGED, bob, old="viewer", new="runner")

    page = text(logged_in(client, bob).get(f"/workspaces/{team.public_id}/audit/"))
    assert "changed bob's role from viewer to runner" in page
    assert "created the workspace “Research”" in page
    assert page.index("changed bob's role") < page.index("created the workspace")
    assert "Elsewhere" not in page and "charlie's plan" not in page
    assert logged_in(client, charlie).get(f"/workspaces/{team.public_id}/audit/").status_code == 404


def test_the_page_is_paginated(client, alice):
    team = make_team(alice, "Research")
    start = timezone.now()
    AuditEvent.objects.bulk_create([
        AuditEvent(workspace=team, actor=alice, actor_label="alice", action="crew.changed", target_label=f"crew {n}",
                   created_at=start + timedelta(seconds=n))
        for n in range(AUDIT_PAGE_SIZE + 5)
    ])
    logged_in(client, alice)
    first = text(client.get(f"/workspaces/{team.public_id}/audit/"))
    assert f"“crew {AUDIT_PAGE_SIZE + 4}”" in first and "“crew 0”" not in first and "Page 1 of 2" in first
    second = text(client.get(f"/workspaces/{team.public_id}/audit/?page=2"))
    assert "“crew 0”" in second and "created the workspace" in second
