"""The authorization matrix: every URL pattern (walked from the URLconf) and every websocket route
(studio.routing) × anonymous / outsider / viewer / runner / editor / owner → the expected answer,
and never a byte of a workspace the visitor is no member of (nor any API key) in a body.

The tables below say, per route, who may do what. `test_every_route_is_in_the_matrix` fails for a
route without an entry, so a new page cannot ship without deciding who may use it.

The world and the markers are in authz_support.py. The HTTP half builds the world once (class
scope, inside one transaction) and runs every request in a savepoint that is rolled back, so each
visitor meets the same world. The websocket half needs committed data (consumers read the database
from other threads) and builds its own.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction
from django.urls import get_resolver

from studio.accounts.models import Role
from studio.runs.models import Run
from tests.studio.authz_support import (
    ANON,
    EDITOR,
    MARKERS,
    MEMBERS,
    OUTSIDER,
    OWNER,
    PERSONAS,
    POST_ONLY,
    RUNNER,
    VIEWER,
    Call,
    Route,
    agent_data,
    build_world,
    check,
    current,
    drop_worker_checks,
    edit_crew_data,
    everyone,
    forbidden,
    logged_in,
    member,
    new_crew_data,
    personal_target,
    url_names,
    visit,
    websocket_routes,
)

# ---- the HTTP table ------------------------------------------------------------------------------------------

T = lambda w: w.team.public_id  # noqa: E731 - short path builders read better inline
CREW = lambda w: w.builders.public_id  # noqa: E731
RUN = lambda w: w.run.public_id  # noqa: E731

HTTP_ROUTES: dict[str, Route] = {
    "home": Route(lambda w: "/", [Call("GET", logged_in(200))]),
    # accounts
    "accounts:signup": Route(lambda w: "/accounts/signup/", [
        Call("GET", {**logged_in(302), ANON: 200}), Call("POST", {**logged_in(302), ANON: 200})]),
    "accounts:login": Route(lambda w: "/accounts/login/", [
        Call("GET", {**logged_in(302), ANON: 200}), Call("POST", {**logged_in(302), ANON: 200})]),
    "accounts:logout": Route(lambda w: "/accounts/logout/", [Call("GET", everyone(405)), Call("POST", everyone(302))]),
    "accounts:password_change": Route(lambda w: "/accounts/password/", [
        Call("GET", logged_in(200)), Call("POST", logged_in(200))]),
    "accounts:password_change_done": Route(lambda w: "/accounts/password/done/", [Call("GET", logged_in(200))]),
    # team workspaces
    "workspaces:index": Route(lambda w: "/workspaces/", [Call("GET", logged_in(200))]),
    "workspaces:create": Route(lambda w: "/workspaces/new/", [
        Call("GET", logged_in(200)), Call("POST", logged_in(302), {"name": "Made by the matrix"})]),
    "workspaces:switch": Route(lambda w: "/workspaces/switch/", [
        Call("GET", POST_ONLY), Call("POST", member(VIEWER, 302), lambda w, p: {"workspace": str(w.team.public_id)})]),
    "workspaces:join": Route(lambda w: f"/workspaces/join/{w.link.token}/", [
        Call("GET", logged_in(200)), Call("POST", {**logged_in(400), OUTSIDER: 302}, {"action": "accept"})],
        token_shows=("T",)),
    "workspaces:respond": Route(lambda w: f"/workspaces/inbox/{w.emailed.invitation.public_id}/", [
        Call("GET", POST_ONLY), Call("POST", logged_in(404), {"action": "accept"})]),  # addressed to nobody here
    "workspaces:copy_crew": Route(lambda w: f"/workspaces/copy-crew/{CREW(w)}/", [
        Call("GET", member(VIEWER, 200)), Call("POST", member(VIEWER, 302), personal_target)]),
    "workspaces:members": Route(lambda w: f"/workspaces/{T(w)}/", [Call("GET", member(VIEWER, 200))]),
    "workspaces:rename": Route(lambda w: f"/workspaces/{T(w)}/rename/", [
        Call("GET", member(OWNER, 200)), Call("POST", member(OWNER, 302), {"name": "Renamed"})]),
    "workspaces:delete": Route(lambda w: f"/workspaces/{T(w)}/delete/", [
        Call("GET", member(OWNER, 200)), Call("POST", member(OWNER, 400), {"confirm_name": "wrong on purpose"})]),
    "workspaces:leave": Route(lambda w: f"/workspaces/{T(w)}/leave/", [
        Call("GET", POST_ONLY), Call("POST", member(VIEWER, 302))]),
    "workspaces:audit": Route(lambda w: f"/workspaces/{T(w)}/audit/", [Call("GET", member(VIEWER, 200))]),
    "workspaces:member_role": Route(lambda w: f"/workspaces/{T(w)}/members/{w.users['target'].public_id}/role/", [
        Call("GET", POST_ONLY), Call("POST", member(OWNER, 302), {"role": Role.RUNNER})]),
    "workspaces:member_remove": Route(lambda w: f"/workspaces/{T(w)}/members/{w.users['target'].public_id}/remove/", [
        Call("GET", POST_ONLY), Call("POST", member(OWNER, 302))]),
    "workspaces:invitations": Route(lambda w: f"/workspaces/{T(w)}/invitations/", [
        Call("GET", member(OWNER, 200)),
        Call("POST", member(OWNER, 302), {"kind": "link", "link-role": Role.VIEWER, "link-days": 7})]),
    "workspaces:invitation_revoke": Route(
        lambda w: f"/workspaces/{T(w)}/invitations/{w.emailed.invitation.public_id}/revoke/", [
            Call("GET", POST_ONLY), Call("POST", member(OWNER, 302))]),
    # system
    "system:status": Route(lambda w: "/system/", [Call("GET", logged_in(200))]),
    "system:docker": Route(lambda w: "/system/docker/", [Call("GET", logged_in(200))]),
    "system:worker_check": Route(lambda w: "/system/worker-check/", [
        Call("GET", POST_ONLY), Call("POST", logged_in(200))]),
    # runs
    "runs:start": Route(lambda w: f"/runs/start/{w.run.crew.public_id}/", [
        Call("GET", POST_ONLY), Call("POST", member(RUNNER, 302), {"task": "Plan a walk."})]),
    "runs:detail": Route(lambda w: f"/runs/{RUN(w)}/", [Call("GET", member(VIEWER, 200))]),
    "runs:reply": Route(lambda w: f"/runs/{RUN(w)}/questions/{w.question.public_id}/reply/", [
        Call("GET", POST_ONLY), Call("POST", member(RUNNER, 200), {"action": "reply", "answer": "Lemonade."})]),
    "runs:cancel": Route(lambda w: f"/runs/{RUN(w)}/cancel/", [Call("GET", POST_ONLY), Call("POST", member(RUNNER, 200))]),
    "runs:shares": Route(lambda w: f"/runs/{RUN(w)}/shares/", [
        Call("GET", member(VIEWER, 200)), Call("POST", member(RUNNER, 302), {"expires": "7"})]),
    "runs:share_revoke": Route(lambda w: f"/runs/{RUN(w)}/shares/{w.share.share.public_id}/revoke/", [
        Call("GET", POST_ONLY), Call("POST", member(OWNER, 302))]),
    "runs:shared": Route(lambda w: f"/runs/shared/{w.share.token}/", [Call("GET", everyone(200))]),
    "runs:list": Route(lambda w: "/runs/", [
        Call("GET", current(VIEWER, 200), htmx=True),
        Call("GET", member(VIEWER, 200), htmx=True, query=lambda w: f"?crew={w.run.crew.public_id}")]),
    "runs:panel": Route(lambda w: f"/runs/{RUN(w)}/panel/", [Call("GET", member(VIEWER, 200))]),
    # builder: models
    "crews:model_list": Route(lambda w: "/models/", [Call("GET", current(VIEWER, 200), htmx=True)]),
    "crews:model_create": Route(lambda w: "/models/new/", [
        Call("GET", current(EDITOR, 200)),
        Call("POST", current(EDITOR, 302), {"name": "Fresh replay", "provider": "replay", "model": "replay"})]),
    "crews:model_edit": Route(lambda w: f"/models/{w.replay.public_id}/", [
        Call("GET", member(VIEWER, 200)),
        Call("POST", member(EDITOR, 302), {"name": "Renamed replay", "provider": "replay", "model": "replay"})]),
    "crews:model_test": Route(lambda w: f"/models/{w.replay.public_id}/test/", [
        Call("GET", POST_ONLY), Call("POST", member(EDITOR, 200), htmx=True)]),
    "crews:model_delete": Route(lambda w: f"/models/{w.replay.public_id}/delete/", [
        Call("GET", member(EDITOR, 200)), Call("POST", member(EDITOR, 302))]),
    # builder: agents
    "crews:agent_list": Route(lambda w: "/agents/", [Call("GET", current(VIEWER, 200), htmx=True)]),
    "crews:agent_create": Route(lambda w: "/agents/new/", [
        Call("GET", current(EDITOR, 200)), Call("POST", current(EDITOR, 302), agent_data("fresh_agent"))]),
    "crews:agent_edit": Route(lambda w: f"/agents/{w.spare.public_id}/", [
        Call("GET", member(VIEWER, 200)), Call("POST", member(EDITOR, 302), agent_data("spare_renamed"))]),
    "crews:agent_delete": Route(lambda w: f"/agents/{w.spare.public_id}/delete/", [
        Call("GET", member(EDITOR, 200)), Call("POST", member(EDITOR, 302))]),
    "crews:agent_versions": Route(lambda w: f"/agents/{w.planner.public_id}/versions/", [
        Call("GET", member(VIEWER, 200), htmx=True)]),
    "crews:agent_restore": Route(lambda w: f"/agents/{w.planner.public_id}/versions/1/restore/", [
        Call("GET", POST_ONLY), Call("POST", member(EDITOR, 302))]),
    # builder: crews and the canvas
    "crews:crew_list": Route(lambda w: "/crews/", [Call("GET", current(VIEWER, 200), htmx=True)]),
    "crews:crew_create": Route(lambda w: "/crews/new/", [
        Call("GET", current(EDITOR, 200)), Call("POST", current(EDITOR, 302), new_crew_data)]),
    "crews:import": Route(lambda w: "/crews/import/", [
        Call("GET", current(EDITOR, 200)), Call("POST", current(EDITOR, 302), lambda w, p: {"text": w.document})]),
    "crews:crew_detail": Route(lambda w: f"/crews/{CREW(w)}/", [Call("GET", member(VIEWER, 200), htmx=True)]),
    "crews:crew_edit": Route(lambda w: f"/crews/{CREW(w)}/edit/", [
        Call("GET", {**member(VIEWER, 200), VIEWER: 302, RUNNER: 302}),  # below editor: to the read-only canvas
        Call("POST", member(EDITOR, 302), edit_crew_data)]),
    "crews:crew_delete": Route(lambda w: f"/crews/{CREW(w)}/delete/", [
        Call("GET", member(EDITOR, 200)), Call("POST", member(EDITOR, 302))]),
    "crews:crew_export": Route(lambda w: f"/crews/{CREW(w)}/export/", [Call("GET", member(VIEWER, 200))]),
    "crews:crew_versions": Route(lambda w: f"/crews/{CREW(w)}/versions/", [Call("GET", member(VIEWER, 200), htmx=True)]),
    "crews:crew_restore": Route(lambda w: f"/crews/{CREW(w)}/versions/1/restore/", [
        Call("GET", POST_ONLY), Call("POST", member(EDITOR, 302))]),
    "crews:crew_members": Route(lambda w: f"/crews/{CREW(w)}/members/", [
        Call("GET", POST_ONLY),
        Call("POST", member(EDITOR, 302), lambda w, p: {"agent": [str(a.public_id) for a in (w.coder, w.planner, w.reviewer)]})]),
    "crews:crew_member_add": Route(lambda w: f"/crews/{CREW(w)}/members/add/", [
        Call("GET", POST_ONLY), Call("POST", member(EDITOR, 302), lambda w, p: {"add": str(w.spare.public_id)})]),
    "crews:crew_member_remove": Route(lambda w: f"/crews/{CREW(w)}/members/remove/", [
        Call("GET", POST_ONLY), Call("POST", member(EDITOR, 302), lambda w, p: {"remove": str(w.reviewer.public_id)})]),
    "crews:crew_member_move": Route(lambda w: f"/crews/{CREW(w)}/members/move/", [
        Call("GET", POST_ONLY), Call("POST", member(EDITOR, 302), lambda w, p: {"up": str(w.coder.public_id)})]),
    "crews:crew_transitions": Route(lambda w: f"/crews/{CREW(w)}/transitions/", [
        Call("GET", POST_ONLY),
        Call("POST", member(EDITOR, 302), lambda w, p: {"edge": [f"{w.planner.public_id}:{w.coder.public_id}",
                                                                 f"{w.coder.public_id}:{w.reviewer.public_id}",
                                                                 f"{w.reviewer.public_id}:{w.planner.public_id}"]})]),
    # builder: gallery
    "crews:gallery": Route(lambda w: "/gallery/", [Call("GET", current(VIEWER, 200))]),
    "crews:gallery_use": Route(lambda w: f"/gallery/{w.slug}/use/", [Call("GET", POST_ONLY), Call("POST", current(EDITOR, 302))]),
}

def test_every_route_is_in_the_matrix():
    names = url_names(get_resolver().url_patterns)
    assert len(names) == len(set(names)), "two URL patterns share a name"
    assert set(names) - set(HTTP_ROUTES) == set(), "URL patterns without a matrix entry: say who may use them"
    assert set(HTTP_ROUTES) - set(names) == set(), "matrix entries for URL patterns that no longer exist"
    assert set(websocket_routes()) == set(WEBSOCKET_ROUTES), "websocket routes and the matrix differ"


# ---- the HTTP half -------------------------------------------------------------------------------------------


@pytest.fixture(scope="class")
def world(django_db_setup, django_db_blocker):
    """Built once, in a transaction rolled back at the end; every request adds its own savepoint."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            built = build_world()
            yield built
            transaction.set_rollback(True)
    drop_worker_checks(built)


ROUTE_CALLS = [(name, index) for name, route in HTTP_ROUTES.items() for index in range(len(route.calls))]


@pytest.mark.django_db
class TestHttpMatrix:
    @pytest.mark.parametrize(("name", "index"), ROUTE_CALLS,
                             ids=[f"{HTTP_ROUTES[n].calls[i].method} {n}{' ?query' if HTTP_ROUTES[n].calls[i].query else ''}"
                                  for n, i in ROUTE_CALLS])
    def test_route(self, world, name, index):
        route = HTTP_ROUTES[name]
        call = route.calls[index]
        path = route.path(world) + (call.query(world) if call.query else "")
        problems = []
        for persona in PERSONAS:
            data = call.data(world, persona) if callable(call.data) else call.data
            # A token route shows its workspace's name to any logged-in holder of the token.
            allowed = route.token_shows if persona != ANON else ()
            for htmx in (False, True) if call.htmx else (False,):
                response = visit(world, persona, call.method, path, data, htmx)
                problem = check(response, call.expect[persona], persona, allowed, world)
                if problem:
                    problems.append(f"{persona}{' (htmx)' if htmx else ''}: {problem}")
        assert not problems, f"{call.method} {path}\n" + "\n".join(problems)


# ---- the websocket half --------------------------------------------------------------------------------------

# route -> persona -> the close code at connect, or "open" (then: replay, markers, and the reply rule).
OPEN = "open"
WEBSOCKET_ROUTES: dict[str, dict[str, Any]] = {
    "ws/system/": {**{p: OPEN for p in PERSONAS}, ANON: 4401},
    "ws/runs/<uuid:run_id>/": {ANON: 4401, OUTSIDER: 4404, **{role: OPEN for role in MEMBERS}},
    "ws/shared/<str:token>/": {p: OPEN for p in PERSONAS},
}


@pytest.fixture
def own_runs_queue(settings):
    """Run tasks this test causes (a reply's continuation) go to a queue of its own, removed after."""
    from workers.celery import app

    settings.PARLEY_RUNS_QUEUE = f"parley-test-authz-{uuid.uuid4().hex[:12]}"
    yield settings.PARLEY_RUNS_QUEUE
    if str(app.conf.broker_url).startswith("redis"):
        from tests.runs.support import remove_queue

        remove_queue(app, settings.PARLEY_RUNS_QUEUE)


REFUSED_REPLY = "You cannot answer this question."


def test_websocket_routes(ws_client, own_runs_queue):
    world = build_world()
    paths = {"ws/system/": "/ws/system/", "ws/runs/<uuid:run_id>/": f"/ws/runs/{world.run.public_id}/",
             "ws/shared/<str:token>/": f"/ws/shared/{world.share.token}/"}
    reply = json.dumps({"type": "reply", "request": str(world.question.public_id), "action": "reply",
                        "answer": "Lemonade."})

    async def visit_socket(route: str, persona: str) -> tuple[Any, list[str]]:
        """(close code at connect, or OPEN) and every frame the visitor received."""
        user = world.users.get(persona)
        socket = await sync_to_async(ws_client.communicator)(paths[route], user)
        accepted, refused = await socket.connect()
        frames: list[str] = []
        try:
            if not accepted:
                return refused, frames
            if not await socket.receive_nothing(timeout=0.05):
                output = await socket.receive_output()
                if output["type"] == "websocket.close":
                    return output.get("code"), frames
                frames.append(output.get("text") or "")
            if route == "ws/system/":
                return OPEN, frames
            await socket.send_to(json.dumps({"type": "resume", "last_seq": 0}))
            while 'id="run-status"' not in frames[-1] if frames else True:
                # A refusal decided after accept may come later than the quiet window above (a busy host).
                output = await socket.receive_output()
                if output["type"] == "websocket.close":
                    return output.get("code"), frames
                frames.append(output.get("text") or "")
            await socket.send_to(reply)  # an event: who may answer is decided again, per event
            if route == "ws/runs/<uuid:run_id>/":
                frames.append(await socket.receive_from())
            else:
                assert await socket.receive_nothing(timeout=0.2), "the shared socket answered a reply"
            return OPEN, frames
        finally:
            await socket.disconnect()

    from workers import relay

    async def scenario() -> list[str]:
        relay.register_server_loop(asyncio.get_running_loop())
        problems = []
        for route, expected in WEBSOCKET_ROUTES.items():
            for persona in PERSONAS:
                outcome, frames = await visit_socket(route, persona)
                body = "".join(frames)
                if outcome != expected[persona]:
                    problems.append(f"{route} {persona}: expected {expected[persona]}, got {outcome}")
                shown = [m for m in forbidden(persona) if m in body]
                if route == "ws/shared/<str:token>/":  # a link shows the run, never its crew or workspace
                    shown += [m for m in MARKERS["T"] if m in body]
                if shown:
                    problems.append(f"{route} {persona}: shows {shown}")
                if route == "ws/runs/<uuid:run_id>/" and outcome == OPEN:
                    refused = REFUSED_REPLY in frames[-1]
                    if refused != (not Role.allows(persona, Role.RUNNER)):
                        problems.append(f"{route} {persona}: the reply was {'refused' if refused else 'taken'}")
                    if 'data-seq="2"' not in body:
                        problems.append(f"{route} {persona}: no replay")
        return problems

    problems = async_to_sync(scenario)()
    assert not problems, "\n".join(problems)
    run = Run.objects.get(pk=world.run.pk)
    assert run.input_requests.get().replied_by == world.users[RUNNER]  # the first runner+ answered, once
