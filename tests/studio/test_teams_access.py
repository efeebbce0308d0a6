"""Access to every team-sharing route: anonymous -> login, outsider -> 404, too weak a role -> 403,
enough -> the page or action. Bodies never carry another workspace's names.

`TEAM_ROUTES` lists each route with its least role; the authorization matrix test (which comes with
the runs feature) can import it for the workspaces namespace.
"""

from __future__ import annotations

import pytest
from django.urls import get_resolver

from studio.accounts import invitations
from studio.accounts.models import Role
from tests.factories import UserFactory
from tests.studio.crews_support import make_agent, two_agent_crew
from tests.studio.teams_support import EDITOR, OWNER, RUNNER, VIEWER, make_team

pytestmark = pytest.mark.django_db

ROLES = (VIEWER, RUNNER, EDITOR, OWNER)

# (url name, method, least role). Paths are filled in by `path_of` from the fixture's objects.
TEAM_ROUTES: list[tuple[str, str, str]] = [
    ("members", "GET", VIEWER),
    ("audit", "GET", VIEWER),
    ("leave", "POST", VIEWER),
    ("copy_crew", "GET", VIEWER),
    ("copy_crew", "POST", VIEWER),
    ("rename", "GET", OWNER),
    ("rename", "POST", OWNER),
    ("delete", "GET", OWNER),
    ("delete", "POST", OWNER),
    ("member_role", "POST", OWNER),
    ("member_remove", "POST", OWNER),
    ("invitations", "GET", OWNER),
    ("invitations", "POST", OWNER),
    ("invitation_revoke", "POST", OWNER),
]
# Routes about the user rather than a workspace: each is covered by its own test below.
USER_ROUTES = {"index", "create", "switch", "join", "respond"}


@pytest.fixture
def world(alice, bob):
    """alice owns "Research" with one member per role, a crew and an open invitation; "Bob's" is a
    workspace of an outsider with names that must never show up in Research's pages."""
    team = make_team(alice, "Research")
    people = {OWNER: alice}
    for role in (VIEWER, RUNNER, EDITOR):
        people[role] = UserFactory(username=f"{role}_user")
        team.memberships.create(user=people[role], role=role)
    outsider = bob
    elsewhere = make_team(bob, "Bob's hidden lab")
    proxy = make_agent(team, alice, name="proxy", kind="user_proxy")
    helper = make_agent(team, alice, name="helper", kind="conversable")
    crew = two_agent_crew(team, alice, proxy, helper, name="Pair")
    pending = invitations.create_invite_link(team, alice, VIEWER)
    target = UserFactory(username="target_user")
    team.memberships.create(user=target, role=VIEWER)
    return {"team": team, "people": people, "outsider": outsider, "elsewhere": elsewhere, "crew": crew,
            "invitation": pending.invitation, "target": target}


def path_of(name: str, world: dict) -> str:
    team = world["team"].public_id
    return {
        "members": f"/workspaces/{team}/",
        "audit": f"/workspaces/{team}/audit/",
        "leave": f"/workspaces/{team}/leave/",
        "copy_crew": f"/workspaces/copy-crew/{world['crew'].public_id}/",
        "rename": f"/workspaces/{team}/rename/",
        "delete": f"/workspaces/{team}/delete/",
        "member_role": f"/workspaces/{team}/members/{world['target'].public_id}/role/",
        "member_remove": f"/workspaces/{team}/members/{world['target'].public_id}/remove/",
        "invitations": f"/workspaces/{team}/invitations/",
        "invitation_revoke": f"/workspaces/{team}/invitations/{world['invitation'].public_id}/revoke/",
    }[name]


POST_DATA = {
    "rename": {"name": "Renamed"},
    "delete": {"confirm_name": "wrong on purpose"},
    "member_role": {"role": RUNNER},
    "invitations": {"kind": "link", "link-role": VIEWER, "link-days": 7},
    "copy_crew": {"target": "not-one-of-yours"},
}


def call(client, method: str, name: str, world: dict):
    url = path_of(name, world)
    return client.get(url) if method == "GET" else client.post(url, POST_DATA.get(name, {}))


def test_every_workspaces_route_is_in_a_table():
    included = [entry for entry in get_resolver().url_patterns if getattr(entry, "namespace", None) == "workspaces"]
    names = {pattern.name for entry in included for pattern in entry.url_patterns}
    assert names == {name for name, _, _ in TEAM_ROUTES} | USER_ROUTES


@pytest.mark.parametrize(("name", "method", "least"), TEAM_ROUTES, ids=[f"{m} {n}" for n, m, _ in TEAM_ROUTES])
def test_team_routes_by_role(client, world, name, method, least):
    anonymous = call(client, method, name, world)
    assert anonymous.status_code == 302 and anonymous.url.startswith("/accounts/login/")

    client.force_login(world["outsider"])
    assert call(client, method, name, world).status_code == 404

    for role in ROLES:
        client.force_login(world["people"][role])
        response = call(client, method, name, world)
        if Role.allows(role, least):
            assert response.status_code in (200, 302, 400), (role, response.status_code)
            body = response.content.decode()
            assert "Bob's hidden lab" not in body and "Bob&#x27;s hidden lab" not in body
            assert str(world["elsewhere"].public_id) not in body
        else:
            assert response.status_code == 403, (role, response.status_code)


def test_user_routes_need_a_login_and_act_only_on_the_users_own(client, world):
    team, outsider = world["team"], world["outsider"]
    made = invitations.invite_by_email(team, world["people"][OWNER], "someone@example.test", VIEWER)
    urls = {
        "index": "/workspaces/", "create": "/workspaces/new/", "switch": "/workspaces/switch/",
        "join": f"/workspaces/join/{made.token}/", "respond": f"/workspaces/inbox/{made.invitation.public_id}/",
    }
    for url in urls.values():
        response = client.get(url)
        assert response.status_code in (302, 405)
        if response.status_code == 302:
            assert response.url.startswith("/accounts/login/")
        post = client.post(url, {"workspace": str(team.public_id), "action": "accept", "name": "X"})
        assert post.status_code == 302 and post.url.startswith("/accounts/login/")
    assert not team.memberships.filter(user__username="someone").exists()

    client.force_login(outsider)
    assert client.post(urls["switch"], {"workspace": str(team.public_id)}).status_code == 404
    assert client.post(urls["respond"], {"action": "accept"}).status_code == 404  # addressed to someone else
    refused = client.post(urls["join"], {"action": "accept"})
    assert refused.status_code == 400 and not team.memberships.filter(user=outsider).exists()
    index = client.get(urls["index"]).content.decode()
    assert "Research" not in index and "Bob&#x27;s hidden lab" in index
    assert client.get(urls["switch"]).status_code == 405
