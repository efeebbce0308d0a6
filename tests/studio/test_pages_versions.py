"""Version pages of crews and agents: history list, diff between two versions, restore."""

from __future__ import annotations

import pytest

from studio.crews import services
from studio.crews.models import AgentDef
from tests.studio.crews_support import make_agent
from tests.studio.pages_support import HTMX, alice_client, studio, url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def test_crew_history_diff_and_restore(alice_client, studio):
    crew = studio.crew
    services.reorder_members(crew, [studio.coder.public_id, studio.planner.public_id], user=studio.user)
    crew.max_round = 4
    services.save_crew(crew, user=studio.user)
    versions_url = url("crew_versions", crew.public_id)

    page = alice_client.get(versions_url).content.decode()
    assert "Reordered members: coder, planner" in page and "Changed Group chat: max round" in page
    assert page.count('name="older"') == 3

    diff = alice_client.get(versions_url, {"older": 1, "newer": 3}, **HTMX).content.decode()
    assert diff.lstrip().startswith('<section id="diff"') and "<html" not in diff
    assert "Version 1 → version 3" in diff
    assert ('<th scope="row">Group chat: members</th>'
            "<td>“[&#x27;planner&#x27;, &#x27;coder&#x27;]” → “[&#x27;coder&#x27;, &#x27;planner&#x27;]”</td>") in diff
    assert '<th scope="row">Group chat: max round</th><td>“10” → “4”</td>' in diff
    swapped = alice_client.get(versions_url, {"older": 3, "newer": 1}, **HTMX).content.decode()
    assert "Version 1 → version 3" in swapped  # the older one always goes first
    single = alice_client.get(versions_url, {"newer": 2}).content.decode()
    assert "Version 1 → version 2" in single and "max round" not in single.split('id="diff"')[1]
    bad = alice_client.get(versions_url, {"older": "x", "newer": 99})
    assert bad.status_code == 200 and "Choose two versions of this list to compare." in bad.content.decode()

    response = alice_client.post(url("crew_restore", crew.public_id, 1))
    assert response.status_code == 302 and response["Location"] == url("crew_detail", crew.public_id)
    crew.refresh_from_db()
    assert studio.member_names() == ["planner", "coder"] and crew.max_round == 10
    assert crew.versions.first().summary == "Restored version 1" and crew.versions.count() == 4
    assert "Restored version 1; the restore is saved as a new version." in alice_client.get(
        response["Location"]).content.decode()
    assert alice_client.post(url("crew_restore", crew.public_id, 42)).status_code == 404


def test_a_restore_that_no_longer_validates_is_refused_in_words(alice_client, studio):
    agent = studio.coder
    agent.name = "builder"
    services.save_agent(agent, user=studio.user)  # version 2: renamed
    make_agent(studio.workspace, studio.user, name="coder")  # someone else takes the old name
    response = alice_client.post(url("agent_restore", agent.public_id, 1), follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == url("agent_versions", agent.public_id)
    assert "Version 1 cannot be restored as it is:" in html
    assert "There is already an agent named “coder” in this workspace." in html
    assert AgentDef.objects.get(pk=agent.pk).name == "builder" and agent.versions.count() == 2


def test_agent_history_and_restore(alice_client, studio):
    agent = studio.coder
    agent.system_message = "Version two."
    services.save_agent(agent, user=studio.user)
    page = alice_client.get(url("agent_versions", agent.public_id)).content.decode()
    assert "Changed Agent: system message" in page
    diff = alice_client.get(url("agent_versions", agent.public_id), {"newer": 2}, **HTMX).content.decode()
    assert '<th scope="row">Agent: system message</th><td>“” → “Version two.”</td>' in diff
    response = alice_client.post(url("agent_restore", agent.public_id, 1))
    assert response.status_code == 302 and response["Location"] == url("agent_edit", agent.public_id)
    assert AgentDef.objects.get(pk=agent.pk).system_message == ""
