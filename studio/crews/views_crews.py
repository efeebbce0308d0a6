"""Crew pages: list, create/edit (two-agent or group), the crew's canvas page, delete."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from studio.accounts.models import User
from studio.crews import services
from studio.crews.choices import CrewKind
from studio.crews.forms import CrewForm
from studio.crews.models import AgentDef, Crew
from studio.crews.validation import crew_warnings
from studio.crews.views import (
    READ,
    WRITE,
    _get_crew_for_user,
    can_edit,
    render_page,
    workspace_for_reading,
    workspace_for_writing,
)
from studio.crews.views_forms import posted_data, role_to_edit, save_form

LIST = "crews/crew_list.html"
FORM = "crews/crew_form.html"
DETAIL = "crews/crew_detail.html"
DELETE = "crews/crew_delete.html"


@login_required
@require_GET
def crew_list(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for_reading(request)
    crews = Crew.objects.filter(workspace=workspace).annotate(member_count=Count("members")).order_by("name")
    return render_page(request, LIST, {"workspace": workspace, "crews": crews, "can_edit": can_edit(workspace)},
                       partial="crew-table")


@login_required
@require_http_methods(["GET", "POST"])
def crew_create(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for_writing(request)
    kind = request.GET.get("kind")
    crew = Crew(workspace=workspace, kind=kind if kind in CrewKind.values else CrewKind.GROUP)
    return _crew_form(request, crew)


@login_required
@require_http_methods(["GET", "POST"])
def crew_edit(request: HttpRequest, public_id: UUID) -> HttpResponse:
    crew = _get_crew_for_user(request, public_id, role_to_edit(request))
    if not can_edit(crew.workspace):
        return redirect("crews:crew_detail", public_id=crew.public_id)
    return _crew_form(request, crew)


def _crew_form(request: HttpRequest, crew: Crew) -> HttpResponse:
    title, is_new = crew.name, crew.pk is None
    form = CrewForm(posted_data(request), instance=crew, workspace=crew.workspace)
    if saved := save_form(request, form, _save_crew, message="Saved the crew “{name}”.", then="crews:crew_detail"):
        return saved
    has_agents = AgentDef.objects.filter(workspace=crew.workspace).exists()
    context = {"form": form, "crew": crew, "title": title or "New crew", "is_new": is_new, "has_agents": has_agents}
    return render(request, FORM, context)


def _save_crew(form: CrewForm, user: User) -> None:
    crew = form.instance
    services.save_crew(crew, user=user, members=_members_to_save(form, crew),
                       summary="Created" if crew.pk is None else None)


def _members_to_save(form: CrewForm, crew: Crew) -> list[AgentDef] | None:
    """The member list to store, or None to leave the stored one alone (two-agent chats, or no change)."""
    if form.cleaned_data.get("kind") != CrewKind.GROUP:
        return None
    members = form.ordered_members()
    if crew.pk is not None and members == crew.ordered_members():
        return None
    return members


# ---- the canvas page ------------------------------------------------------------------------------------


def canvas_context(crew: Crew, *, editable: bool, **extra: Any) -> dict[str, Any]:
    """Everything the crew page's canvas partial shows. `extra` carries a failed action's errors and
    what the person had chosen (e.g. `posted_edges`), so the partial shows both."""
    members = crew.ordered_members()
    member_ids = {agent.id for agent in members}
    library = [agent for agent in AgentDef.objects.filter(workspace_id=crew.workspace_id).select_related("model")
               if agent.id not in member_ids]
    edges = {(s, t) for s, t in crew.transitions.values_list("source__public_id", "target__public_id")}
    posted = extra.pop("posted_edges", None)
    checked = posted if posted is not None else {f"{s}:{t}" for s, t in edges}
    matrix = [
        {"source": source, "cells": [
            {"target": target, "value": f"{source.public_id}:{target.public_id}",
             "checked": f"{source.public_id}:{target.public_id}" in checked}
            for target in members]}
        for source in members
    ]
    initiator = crew.initiator or (members[0] if members else None)
    context = {
        "crew": crew, "members": members, "library": library, "matrix": matrix, "has_transitions": bool(edges),
        "initiator": initiator, "problems": services.run_problems(crew), "warnings": crew_warnings(crew),
        "can_edit": editable, "canvas_errors": [], "transition_errors": [],
    }
    context.update(extra)
    return context


@login_required
@require_GET
def crew_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    crew = _get_crew_for_user(request, public_id, READ)
    context = canvas_context(crew, editable=can_edit(crew.workspace))
    return render_page(request, DETAIL, context, partial="canvas")


@login_required
@require_http_methods(["GET", "POST"])
def crew_delete(request: HttpRequest, public_id: UUID) -> HttpResponse:
    crew = _get_crew_for_user(request, public_id, WRITE)
    if request.method == "POST":
        name = crew.name
        services.delete_crew(crew, user=request.user)
        messages.success(request, f"Deleted the crew “{name}”.")
        return redirect("crews:crew_list")
    return render(request, DELETE, {"crew": crew})
