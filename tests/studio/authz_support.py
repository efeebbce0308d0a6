"""The world of the authorization matrix (tests/studio/test_authz_matrix.py; no tests here): the
six visitors, the markers each workspace carries, expectation builders, and the request helpers.

The world: team "T" where each role has one member; the outsider's own team "X"; the owner's
personal workspace "P". Each carries distinctive markers in its names and data; a body may show
only the markers of workspaces its visitor belongs to, and no API key at all.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver

from studio.accounts import invitations
from studio.accounts.access import SESSION_KEY
from studio.accounts.models import Membership, Role, Workspace
from studio.crews import services
from studio.crews.gallery import load_gallery
from studio.crews.gallery_seeds import SEEDS
from studio.crews.models import AgentDef
from studio.crews.snapshots import export_crew
from studio.runs import services as run_services
from studio.runs import sharing
from tests.factories import UserFactory
from tests.runs.support import execute_here, human_crew
from tests.studio.crews_support import group_crew, make_agent, make_model, replay_model

ANON, OUTSIDER, VIEWER, RUNNER, EDITOR, OWNER = "anonymous", "outsider", "viewer", "runner", "editor", "owner"
PERSONAS = (ANON, OUTSIDER, VIEWER, RUNNER, EDITOR, OWNER)
MEMBERS = (VIEWER, RUNNER, EDITOR, OWNER)
LOGIN = "login"  # expected: a redirect to the login page
T_KEY, X_KEY = "sk-matrix-TEAMKEY-31c9e0", "sk-matrix-OUTSIDEKEY-77ab42"  # readable by nobody

# workspace -> its markers. A visitor's bodies may show only the markers of their own workspaces.
MARKERS = {
    "T": ("TEAMNAME-4417", "TEAMDATA-4417"),
    "X": ("OUTSIDENAME-9923", "OUTSIDEDATA-9923"),
    "P": ("OWNERPRIVATE-5581",),  # the owner's personal workspace
}
BELONGS = {ANON: (), OUTSIDER: ("X",), VIEWER: ("T",), RUNNER: ("T",), EDITOR: ("T",), OWNER: ("T", "P")}


def forbidden(persona: str) -> list[str]:
    return [m for ws, markers in MARKERS.items() if ws not in BELONGS[persona] for m in markers] + [T_KEY, X_KEY]


# ---- expectations ------------------------------------------------------------------------------------------


def member(least: str, ok: int | set[int]) -> dict[str, Any]:
    """An object of team T: 404 for the outsider, 403 below `least`, `ok` from `least` up."""
    return {ANON: LOGIN, OUTSIDER: 404, **{role: ok if Role.allows(role, least) else 403 for role in MEMBERS}}


def current(least: str, ok: int | set[int]) -> dict[str, Any]:
    """The visitor's current workspace (T for members; the outsider's own X, where they are owner)."""
    return {ANON: LOGIN, OUTSIDER: ok, **{role: ok if Role.allows(role, least) else 403 for role in MEMBERS}}


def logged_in(ok: int | set[int]) -> dict[str, Any]:
    return {ANON: LOGIN, **{persona: ok for persona in PERSONAS if persona != ANON}}


def everyone(ok: Any) -> dict[str, Any]:
    return {persona: ok for persona in PERSONAS}


POST_ONLY = logged_in(405)  # GET on a POST-only view (after the login check)


@dataclass
class Call:
    method: str
    expect: dict[str, Any]
    data: dict | Callable[["World", str], dict] = field(default_factory=dict)
    htmx: bool = False  # also as an htmx request (views that answer htmx with a partial)
    query: Callable[["World"], str] | None = None  # a query string naming an object, e.g. "?crew=<id>"


@dataclass
class Route:
    path: Callable[["World"], str]
    calls: list[Call]
    # Routes opened by a token (an invitation link) may show the name of the workspace it leads to.
    token_shows: tuple[str, ...] = ()


# ---- the world -----------------------------------------------------------------------------------------------


@dataclass
class World:
    users: dict[str, Any]
    team: Workspace
    outside: Workspace
    objects: dict[str, Any]
    sessions: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["objects"][name]
        except KeyError:
            raise AttributeError(name) from None


def build_world() -> World:
    t_name, t_data = MARKERS["T"]
    x_name, x_data = MARKERS["X"]
    users = {role: UserFactory(username=f"m_{role}") for role in (OWNER, EDITOR, RUNNER, VIEWER, OUTSIDER)}
    team = Workspace.objects.create(name=f"Team {t_name}")
    for role in MEMBERS:
        Membership.objects.create(workspace=team, user=users[role], role=role)
    target = UserFactory(username="m_target")
    Membership.objects.create(workspace=team, user=target, role=Role.VIEWER)
    owner = users[OWNER]

    # T: models (one with a key), agents and a group crew carrying the data marker; a crew that asks a person.
    make_model(team, owner, name=f"Keyed {t_data}", api_key=T_KEY)
    replay = replay_model(team, owner, name=f"Replay {t_data}", replies=["hello"])
    planner = make_agent(team, owner, name="planner", model=replay, system_message=f"Plan. {t_data}")
    coder = make_agent(team, owner, name="coder", model=replay, description=f"Writes code. {t_data}")
    reviewer = make_agent(team, owner, name="reviewer", model=replay)
    spare = make_agent(team, owner, name="spare", model=replay)
    builders = group_crew(team, owner, [planner, coder, reviewer], name="Builders", description=f"Builds. {t_data}")
    picnic = human_crew(team, owner, name="Picnic")
    picnic.recipient.system_message = f"You help. {t_data}"  # the run's frozen crew carries it too
    services.save_agent(picnic.recipient, user=owner)
    run = run_services.start_run(picnic, user=owner, dispatch=False)
    execute_here(run)
    run.refresh_from_db()
    share = sharing.create_share(run, owner)
    link = invitations.create_invite_link(team, owner, Role.VIEWER)
    emailed = invitations.invite_by_email(team, owner, "nobody-here@example.test", Role.VIEWER)

    # X: the outsider's team, with data and a run of its own.
    outside = Workspace.objects.create(name=f"Outside {x_name}")
    Membership.objects.create(workspace=outside, user=users[OUTSIDER], role=Role.OWNER)
    make_model(outside, users[OUTSIDER], name=f"Keyed {x_data}", api_key=X_KEY)
    x_crew = human_crew(outside, users[OUTSIDER], name=f"Crew {x_data}")
    x_crew.recipient.system_message = f"Secret {x_data}"
    x_crew.recipient.save(update_fields=["system_message"])
    run_services.start_run(x_crew, user=users[OUTSIDER], task=f"Plan {x_data}", dispatch=False)

    # The owner's personal workspace holds something private too.
    personal = owner.personal_workspace
    human_crew(personal, owner, name=f"Diary {MARKERS['P'][0]}")

    # Something neutral to import, and one gallery crew.
    neutral = Workspace.objects.create(name="Neutral")
    document = export_crew(human_crew(neutral, None, name="Imported pair"))
    slug = next(iter(SEEDS))
    load_gallery({slug: SEEDS[slug]})

    world = World(users=users | {"target": target}, team=team, outside=outside, objects={
        "builders": builders, "planner": planner, "coder": coder, "reviewer": reviewer, "spare": spare,
        "replay": replay, "run": run, "question": run_services.open_request(run), "share": share,
        "link": link, "emailed": emailed, "document": json.dumps(document), "slug": slug,
    })
    for persona, user in users.items():
        client = Client()
        client.force_login(user)
        session = client.session
        session[SESSION_KEY] = str((outside if persona == OUTSIDER else team).public_id)
        session.save()
        world.sessions[persona] = session.session_key
    return world


def agent_data(name: str) -> dict:
    return {"name": name, "kind": "assistant", "human_input_mode": "NEVER", "termination_rule": "default",
            "termination_keyword": "TERMINATE", "code_execution": "off", "code_timeout": 60}


def new_crew_data(world: World, persona: str) -> dict:
    """A two-agent crew of agents from the visitor's current workspace."""
    workspace = world.outside if persona == OUTSIDER else world.team
    first, second = AgentDef.objects.filter(workspace=workspace).order_by("id")[:2]
    return {"name": "Fresh pair", "kind": "two_agent", "initiator": str(first.public_id),
            "recipient": str(second.public_id), "max_round": 10, "speaker_selection": "round_robin",
            "termination_rule": "default", "termination_keyword": "TERMINATE"}


def edit_crew_data(world: World, persona: str) -> dict:
    return {"name": "Builders", "kind": "group", "members": [str(a.public_id) for a in (world.planner, world.coder)],
            "max_round": 8, "speaker_selection": "round_robin", "allow_repeat_speaker": "on",
            "termination_rule": "default", "termination_keyword": "TERMINATE"}


def personal_target(world: World, persona: str) -> dict:
    """Copy a crew into the visitor's own personal workspace (where they are owner)."""
    user = world.users.get(persona)
    return {"target": str(user.personal_workspace.public_id)} if user is not None else {}


HTMX = {"HTTP_HX_REQUEST": "true"}


def url_names(patterns: list, prefix: str = "") -> list[str]:
    """Every named pattern of the URLconf, as "namespace:name" (a walk of get_resolver())."""
    names = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            names += url_names(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            assert entry.name, f"every URL pattern needs a name for the matrix (unnamed: {entry.pattern})"
            names.append(prefix + entry.name)
    return names


def websocket_routes() -> list[str]:
    from studio.routing import websocket_urlpatterns

    return [str(route.pattern) for route in websocket_urlpatterns]


def drop_worker_checks(world: World) -> None:
    """The System page's "Check the worker" POSTs queued tasks no worker of this test takes; remove
    them from a Redis broker (by their users' groups) so the shared queue stays as it was."""
    from workers.celery import app
    from workers.relay import group_for_user

    if not str(app.conf.broker_url).startswith("redis"):
        return  # the in-memory broker goes with this process
    import redis

    groups = {group_for_user(user.public_id) for user in world.users.values()}
    client = redis.Redis.from_url(app.conf.broker_url)
    try:
        queue = app.conf.task_default_queue
        for raw in client.lrange(queue, 0, -1):
            message = json.loads(raw)
            body = json.loads(base64.b64decode(message["body"]))
            if message["headers"].get("task") == "workers.tasks.worker_check" and body[0][0] in groups:
                client.lrem(queue, 1, raw)
    finally:
        client.close()


def visit(world: World, persona: str, method: str, path: str, data: dict, htmx: bool) -> Any:
    client = Client()
    if persona != ANON:
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[persona]
    headers = HTMX if htmx else {}
    with transaction.atomic():  # whatever the request changes is undone before the next visitor
        response = client.get(path, **headers) if method == "GET" else client.post(path, data, **headers)
        transaction.set_rollback(True)
    return response


def check(response: Any, expected: Any, persona: str, allowed_markers: tuple[str, ...], world: World) -> str | None:
    """What is wrong with the answer, or None."""
    code = response.status_code
    if expected == LOGIN:
        if code != 302 or not response["Location"].startswith(resolve_url(settings.LOGIN_URL)):
            return f"expected a redirect to the login page, got {code} {response.get('Location', '')}"
    elif code not in (expected if isinstance(expected, set) else {expected}):
        return f"expected {expected}, got {code}"
    # A redirect's address counts too, except the `next=` echo of the visitor's own request.
    body = response.content.decode(errors="replace") + response.get("Location", "").split("?")[0]
    shown = [m for m in forbidden(persona) if m in body and not any(m in MARKERS[ws] for ws in allowed_markers)]
    ids = {"T": world.team.public_id, "X": world.outside.public_id}
    shown += [f"{ws} id" for ws, public_id in ids.items() if ws not in BELONGS[persona] + allowed_markers
              and str(public_id) in body]
    return f"shows {shown}" if shown else None


