"""Access on every builder page: 404 outside one's workspaces, 403 on writes below the editor role,
and no API key in any response body (pages, partials, errors, exports, diffs)."""

from __future__ import annotations

import pytest
from django.db import connection

from studio.accounts.models import Role
from studio.crews import services
from studio.crews.models import AgentDef, Crew, ModelEndpoint, Version
from tests.factories import WorkspaceFactory, add_member
from tests.studio.pages_support import (  # noqa: F401  (fixtures)
    HTMX,
    Studio,
    alice_client,
    bob_client,
    client_for,
    studio,
    url,
)

pytestmark = pytest.mark.django_db

KEY = "sk-proj-DISTINCTIVE-KEY-9f8e7d6c5b4a"


def read_urls(s: Studio) -> list[str]:
    crew, agent, model = s.crew.public_id, s.coder.public_id, s.model.public_id
    return [url("model_edit", model), url("agent_edit", agent), url("agent_versions", agent),
            url("crew_detail", crew), url("crew_export", crew), url("crew_versions", crew),
            url("crew_versions", crew) + "?older=1&newer=2"]


def write_requests(s: Studio) -> list[tuple[str, dict]]:
    crew, agent, model = s.crew.public_id, s.coder.public_id, s.model.public_id
    members = {"agent": [str(s.coder.public_id), str(s.planner.public_id)]}
    return [
        (url("model_edit", model), {"name": "Stolen", "provider": "replay"}),
        (url("model_test", model), {}),
        (url("model_delete", model), {}),
        (url("agent_edit", agent), {"name": "stolen", "kind": "assistant"}),
        (url("agent_delete", agent), {}),
        (url("agent_restore", agent, 1), {}),
        (url("crew_edit", crew), {"name": "Stolen", "kind": "group"}),
        (url("crew_delete", crew), {}),
        (url("crew_restore", crew, 1), {}),
        (url("crew_members", crew), members),
        (url("crew_member_add", crew), {"add": str(s.runner.public_id)}),
        (url("crew_member_remove", crew), {"remove": str(s.coder.public_id)}),
        (url("crew_member_move", crew), {"up": str(s.coder.public_id)}),
        (url("crew_transitions", crew), {"edge": [f"{s.planner.public_id}:{s.coder.public_id}"]}),
    ]


def shared_studio(owner, other, role: str) -> Studio:
    """A Studio in a team workspace owned by `owner`, where `other` has `role`; with a second version
    of the crew and of coder, so the diff pages have something to show."""
    workspace = WorkspaceFactory(name="Team")
    add_member(workspace, owner, Role.OWNER)
    add_member(workspace, other, role)
    s = Studio(owner, workspace, key=KEY)
    services.reorder_members(s.crew, [s.coder.public_id, s.planner.public_id], user=owner)
    s.coder.system_message = "second version"
    services.save_agent(s.coder, user=owner)
    return s


def state() -> tuple:
    return (Crew.objects.count(), AgentDef.objects.count(), ModelEndpoint.objects.count(), Version.objects.count(),
            sorted(Crew.objects.values_list("name", flat=True)))


def test_another_users_objects_are_404_for_reading_and_writing(bob_client, studio):
    before = state()
    for path in read_urls(studio):
        assert bob_client.get(path).status_code == 404, path
        assert bob_client.get(path, **HTMX).status_code == 404, path
    for path, data in write_requests(studio):
        assert bob_client.post(path, data).status_code == 404, path
        assert bob_client.post(path, data, **HTMX).status_code == 404, path
    assert bob_client.get(url("crew_detail", "00000000-0000-0000-0000-000000000000")).status_code == 404
    assert state() == before
    # bob's own lists do not show alice's things.
    for name in ("crew_list", "agent_list", "model_list"):
        html = bob_client.get(url(name)).content.decode()
        assert "Builders" not in html and "planner" not in html and "GPT key model" not in html


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RUNNER])
def test_below_editor_may_look_but_every_write_is_403(alice, bob, role):
    s = shared_studio(alice, bob, role)
    client = client_for(bob)
    before = state()
    for path in read_urls(s):
        assert client.get(path).status_code == 200, path
    page = client.get(url("crew_detail", s.crew.public_id)).content.decode()
    assert "data-sortable" not in page and "Move coder up" not in page and "Save transitions" not in page
    assert "changing it needs the editor role" in client.get(url("agent_edit", s.coder.public_id)).content.decode()
    assert client.get(url("crew_edit", s.crew.public_id)).status_code == 302  # to the read-only canvas
    for path, data in write_requests(s):
        assert client.post(path, data).status_code == 403, path
        assert client.post(path, data, **HTMX).status_code == 403, path
    for path in (url("model_delete", s.model.public_id), url("agent_delete", s.coder.public_id),
                 url("crew_delete", s.crew.public_id)):
        assert client.get(path).status_code == 403, path
    assert state() == before


def test_an_editor_of_the_team_may_write(alice, bob):
    s = shared_studio(alice, bob, Role.EDITOR)
    client = client_for(bob)
    response = client.post(url("crew_member_add", s.crew.public_id), {"add": str(s.runner.public_id)}, **HTMX)
    assert response.status_code == 200 and [a.name for a in s.crew.ordered_members()] == ["coder", "planner", "runner"]


def test_no_api_key_in_any_response_body(alice, charlie, alice_client, fake_llm):
    s = shared_studio(alice, charlie, Role.VIEWER)
    s.model.base_url = fake_llm.openai_base_url
    services.save_model(s.model, user=alice)
    fake_llm.fail(401, message=f"Incorrect API key provided: {KEY}")
    bodies: dict[str, bytes] = {}

    def fetch(method: str, path: str, data: dict | None = None, **headers) -> None:
        response = getattr(alice_client, method)(path, data or {}, **headers)
        assert response.status_code in (200, 302), (path, response.status_code)
        bodies[f"{method} {path} {headers}"] = response.content

    gets = read_urls(s) + [url(name) for name in ("model_list", "model_create", "agent_list", "agent_create",
                                                  "crew_list", "crew_create", "gallery", "import")] + ["/"]
    gets += [url("model_delete", s.model.public_id), url("agent_delete", s.coder.public_id),
             url("crew_edit", s.crew.public_id), url("crew_delete", s.crew.public_id)]
    for path in gets:
        fetch("get", path)
        fetch("get", path, **HTMX)
    edit = url("model_edit", s.model.public_id)
    # A refused save where the key was typed again, the Test button (its error quotes the key), a canvas action.
    fetch("post", edit, {"name": "", "provider": "openai", "model": "gpt-x", "api_key": KEY})
    fetch("post", url("model_test", s.model.public_id), **HTMX)
    fetch("post", url("model_test", s.model.public_id))
    fetch("post", url("crew_members", s.crew.public_id), {"agent": [str(s.planner.public_id)]}, **HTMX)
    fetch("post", url("model_create"), {"name": "Other", "provider": "anthropic", "model": "c", "api_key": KEY + "2"})

    assert len(bodies) >= 40
    for label, body in bodies.items():
        assert KEY.encode() not in body, label
    assert b"It did not work." in bodies[f"post {url('model_test', s.model.public_id)} {HTMX}"]
    # At rest: ciphertext only.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT api_key FROM {ModelEndpoint._meta.db_table}")
        stored = [row[0] for row in cursor.fetchall() if row[0]]
    assert len(stored) == 2 and all(value.startswith("gAAAA") and KEY not in value for value in stored)
