"""Agent pages: the agent library list, create/edit with every field, delete with confirmation."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from studio.crews import services
from studio.crews.forms import AgentForm
from studio.crews.models import AgentDef
from studio.crews.views import (
    WRITE,
    _get_agent_for_user,
    can_edit,
    render_page,
    workspace_for_reading,
    workspace_for_writing,
)
from studio.crews.views_forms import posted_data, role_to_edit, save_form

LIST = "crews/agent_list.html"
FORM = "crews/agent_form.html"
DELETE = "crews/agent_delete.html"


@login_required
@require_GET
def agent_list(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for_reading(request)
    agents = AgentDef.objects.filter(workspace=workspace).select_related("model").order_by("name")
    return render_page(request, LIST, {"workspace": workspace, "agents": agents, "can_edit": can_edit(workspace)},
                       partial="agent-table")


@login_required
@require_http_methods(["GET", "POST"])
def agent_create(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for_writing(request)
    return _agent_form(request, AgentDef(workspace=workspace), editable=True)


@login_required
@require_http_methods(["GET", "POST"])
def agent_edit(request: HttpRequest, public_id: UUID) -> HttpResponse:
    agent = _get_agent_for_user(request, public_id, role_to_edit(request))
    return _agent_form(request, agent, editable=can_edit(agent.workspace))


def _agent_form(request: HttpRequest, agent: AgentDef, *, editable: bool) -> HttpResponse:
    title, is_new = agent.name, agent.pk is None
    form = AgentForm(posted_data(request), instance=agent, workspace=agent.workspace)
    if saved := save_form(request, form, lambda form, user: services.save_agent(form.instance, user=user),
                          message="Saved the agent {name}.", then="crews:agent_edit"):
        return saved
    crews = [] if is_new else services.crews_using_agent(agent)
    context = {"form": form, "agent": agent, "title": title or "New agent", "is_new": is_new, "crews": crews,
               "can_edit": editable}
    return render(request, FORM, context)


@login_required
@require_http_methods(["GET", "POST"])
def agent_delete(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """GET asks for confirmation, naming the crews that use the agent; POST deletes."""
    agent = _get_agent_for_user(request, public_id, WRITE)
    if request.method == "POST":
        name = agent.name
        crews = services.delete_agent(agent, user=request.user)
        text = f"Deleted the agent {name}."
        if crews:
            text += " It was removed from " + ", ".join(f"“{crew.name}”" for crew in crews) + "."
        messages.success(request, text)
        return redirect("crews:agent_list")
    return render(request, DELETE, {"agent": agent, "crews": services.crews_using_agent(agent)})
