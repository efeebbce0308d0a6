"""`{% workspace_overview workspace %}`: the studio home's lists of crews, agents and models.

A tag, so the home view (studio/views.py) needs no knowledge of the crews app."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Count

from studio.accounts.models import Workspace
from studio.crews.models import AgentDef, Crew, ModelEndpoint
from studio.crews.views import can_edit

register = template.Library()


@register.inclusion_tag("crews/overview.html")
def workspace_overview(workspace: Workspace) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "crews": Crew.objects.filter(workspace=workspace).annotate(member_count=Count("members")).order_by("name"),
        "agents": AgentDef.objects.filter(workspace=workspace).select_related("model").order_by("name"),
        "models": ModelEndpoint.objects.filter(workspace=workspace).order_by("name"),
        "can_edit": can_edit(workspace),
    }
