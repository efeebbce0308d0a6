"""Shared helpers of the builder pages (models, agents, crews, gallery, import/export, versions).

Access: every object a page touches is looked up by its public id, then its workspace goes through
studio.accounts.access. Outside the user's workspaces the answer is 404 (existence is not
revealed); inside with a role below editor, a write is 403. Lists and new objects use the
current workspace.

The pages themselves live in views_models.py, views_agents.py, views_crews.py, views_canvas.py,
views_exchange.py and views_versions.py (one module per page family, so each stays small).
"""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from studio.accounts.access import current_workspace, get_workspace_for_user
from studio.accounts.models import Role, Workspace
from studio.crews.models import AgentDef, Crew, ModelEndpoint

READ = Role.VIEWER
WRITE = Role.EDITOR

Owned = TypeVar("Owned", ModelEndpoint, AgentDef, Crew)


def can_edit(workspace: Workspace) -> bool:
    """`workspace` must come from the access helpers (they attach the user's `.role`)."""
    return Role.allows(getattr(workspace, "role", Role.VIEWER), WRITE)


def _get_for_user(request: HttpRequest, model: type[Owned], public_id: UUID | str, min_role: str) -> Owned:
    try:
        wanted = public_id if isinstance(public_id, UUID) else UUID(str(public_id))
    except ValueError:
        raise Http404(f"No such {model._meta.verbose_name}") from None
    found = model.objects.select_related("workspace").filter(public_id=wanted).first()
    if found is None:
        raise Http404(f"No such {model._meta.verbose_name}")
    # 404 when the user is no member of its workspace, 403 when the role is too weak.
    found.workspace = get_workspace_for_user(request, found.workspace.public_id, min_role)
    return found


def _get_model_for_user(request: HttpRequest, public_id: UUID | str, min_role: str = READ) -> ModelEndpoint:
    return _get_for_user(request, ModelEndpoint, public_id, min_role)


def _get_agent_for_user(request: HttpRequest, public_id: UUID | str, min_role: str = READ) -> AgentDef:
    return _get_for_user(request, AgentDef, public_id, min_role)


def _get_crew_for_user(request: HttpRequest, public_id: UUID | str, min_role: str = READ) -> Crew:
    return _get_for_user(request, Crew, public_id, min_role)


def workspace_for_reading(request: HttpRequest) -> Workspace:
    return current_workspace(request)


def workspace_for_writing(request: HttpRequest) -> Workspace:
    """The current workspace, if the user may create things in it."""
    workspace = current_workspace(request)
    if not can_edit(workspace):
        raise PermissionDenied("Changing this workspace needs the editor role or stronger")
    return workspace


def agent_in_workspace(workspace: Workspace, value: Any) -> AgentDef | None:
    """The agent with public id `value` in `workspace`, or None (also for a malformed id)."""
    try:
        wanted = UUID(str(value))
    except ValueError:
        return None
    return AgentDef.objects.filter(workspace=workspace, public_id=wanted).select_related("model").first()


def place_errors(form: BaseForm, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: next to its field when the form has that field,
    otherwise at the top of the form (the messages are whole sentences either way)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


def error_messages(error: ValidationError) -> list[str]:
    """Every message of a ValidationError, flat (for places without a form)."""
    if hasattr(error, "error_dict"):
        return [message for messages in error.message_dict.values() for message in messages]
    return list(error.messages)


def render_page(request: HttpRequest, template: str, context: dict[str, Any], partial: str | None = None,
                status: int = 200) -> HttpResponse:
    """The whole page, or only its named partial for an htmx request."""
    name = f"{template}#{partial}" if partial and request.htmx else template
    return render(request, name, context, status=status)
