"""The crew canvas's actions: reorder / add / remove members (drag and drop or buttons) and the
allowed-transitions matrix.

With htmx each action answers with the canvas partial, re-rendered from what is saved (so a
refused drag snaps back). Without JS the buttons post ordinary forms: success redirects to the
crew page, a refusal renders it with the reason and what the person had chosen.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from studio.crews import services
from studio.crews.choices import CrewKind
from studio.crews.models import AgentDef, Crew
from studio.crews.views import WRITE, _get_crew_for_user, agent_in_workspace, error_messages
from studio.crews.views_crews import DETAIL, canvas_context

NOT_A_GROUP = "A two-agent chat has no member list: choose its initiator and recipient in the crew's settings."
OUT_OF_DATE = "The canvas was out of date (someone else may have changed the crew); it now shows the saved crew."


def _respond(request: HttpRequest, crew: Crew, *, errors: list[str] | None = None,
             transition_errors: list[str] | None = None, posted_edges: set[str] | None = None) -> HttpResponse:
    extra: dict[str, Any] = {"canvas_errors": errors or [], "transition_errors": transition_errors or [],
                             "canvas_saved": not (errors or transition_errors)}
    if posted_edges is not None:
        extra["posted_edges"] = posted_edges
    crew.refresh_from_db()
    if request.htmx:
        return render(request, f"{DETAIL}#canvas", canvas_context(crew, editable=True, **extra))
    if errors or transition_errors:
        return render(request, DETAIL, canvas_context(crew, editable=True, **extra))
    return redirect("crews:crew_detail", public_id=crew.public_id)


def _group_crew(request: HttpRequest, public_id: UUID) -> Crew:
    return _get_crew_for_user(request, public_id, WRITE)


def _ids(agents: list[AgentDef]) -> list[str]:
    return [str(agent.public_id) for agent in agents]


@login_required
@require_POST
def crew_members(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The drag-and-drop endpoint: the member list in its new order, as the canvas shows it after a
    drag. One card more than saved is an add, one fewer a removal, the same cards a reorder."""
    crew = _group_crew(request, public_id)
    if crew.kind != CrewKind.GROUP:
        return _respond(request, crew, errors=[NOT_A_GROUP])
    posted = [value.strip() for value in request.POST.getlist("agent")]
    current = _ids(crew.ordered_members())
    try:
        if posted == current:
            pass  # dropped where it was: nothing to save
        elif len(posted) == len(current) and set(posted) == set(current):
            services.reorder_members(crew, posted, user=request.user)
        elif len(posted) == len(current) + 1 and set(current) < set(posted):
            (new_id,) = set(posted) - set(current)
            agent = agent_in_workspace(crew.workspace, new_id)
            if agent is None:
                return _respond(request, crew, errors=[OUT_OF_DATE])
            services.add_member(crew, agent, user=request.user, position=posted.index(new_id))
        elif len(posted) == len(current) - 1 and set(posted) < set(current):
            (gone_id,) = set(current) - set(posted)
            gone = agent_in_workspace(crew.workspace, gone_id)
            if gone is None:  # deleted meanwhile
                return _respond(request, crew, errors=[OUT_OF_DATE])
            services.remove_member(crew, gone, user=request.user)
        else:
            return _respond(request, crew, errors=[OUT_OF_DATE])
    except ValidationError as error:
        return _respond(request, crew, errors=error_messages(error))
    return _respond(request, crew)


def _change_member(request: HttpRequest, public_id: UUID, field: str, change, missing: str) -> HttpResponse:
    """Add or remove the agent named by POST `field`, re-rendering the canvas either way."""
    crew = _group_crew(request, public_id)
    if crew.kind != CrewKind.GROUP:
        return _respond(request, crew, errors=[NOT_A_GROUP])
    agent = agent_in_workspace(crew.workspace, request.POST.get(field, ""))
    if agent is None:
        return _respond(request, crew, errors=[missing])
    try:
        change(crew, agent, user=request.user)
    except ValidationError as error:
        return _respond(request, crew, errors=error_messages(error))
    return _respond(request, crew)


@login_required
@require_POST
def crew_member_add(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _change_member(request, public_id, "add", services.add_member, "Choose an agent of this workspace to add.")


@login_required
@require_POST
def crew_member_remove(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _change_member(request, public_id, "remove", services.remove_member, "Choose a member of this crew to remove.")


@login_required
@require_POST
def crew_member_move(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The keyboard way to reorder: move one member a place up (`up=<id>`) or down (`down=<id>`)."""
    crew = _group_crew(request, public_id)
    if crew.kind != CrewKind.GROUP:
        return _respond(request, crew, errors=[NOT_A_GROUP])
    order = _ids(crew.ordered_members())
    step, wanted = (-1, request.POST.get("up")) if "up" in request.POST else (1, request.POST.get("down"))
    if wanted not in order:
        return _respond(request, crew, errors=["Choose a member of this crew to move."])
    index = order.index(wanted)
    target = index + step
    if 0 <= target < len(order):
        order[index], order[target] = order[target], order[index]
        try:
            services.reorder_members(crew, order, user=request.user)
        except ValidationError as error:
            return _respond(request, crew, errors=error_messages(error))
    return _respond(request, crew)


@login_required
@require_POST
def crew_transitions(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The allowed-transitions matrix: each checked box `<from id>:<to id>` lets `to` speak after `from`.
    "Remove all" (`clear`) deletes the graph: then anyone may follow anyone."""
    crew = _group_crew(request, public_id)
    if crew.kind != CrewKind.GROUP:
        return _respond(request, crew, transition_errors=["Only a group chat has allowed transitions."])
    posted = set() if "clear" in request.POST else {value for value in request.POST.getlist("edge")}
    members = {str(agent.public_id): agent for agent in crew.ordered_members()}
    edges = []
    for value in sorted(posted):
        source_id, _, target_id = value.partition(":")
        if source_id not in members or target_id not in members:
            return _respond(request, crew, transition_errors=[OUT_OF_DATE])
        edges.append((members[source_id], members[target_id]))
    try:
        services.set_transitions(crew, edges, user=request.user)
    except ValidationError as error:
        return _respond(request, crew, transition_errors=error_messages(error), posted_edges=posted)
    return _respond(request, crew)
