"""Template tags of team sharing, for other apps' pages.

`{% load teams %}{% copy_crew_form crew %}` renders the "copy to another workspace" form for a
crew the page already resolved through the access helpers.
"""

from __future__ import annotations

from typing import Any

from django import template

from studio.accounts.forms import CopyCrewForm
from studio.crews.copying import copy_targets

register = template.Library()


@register.inclusion_tag("workspaces/_copy_crew.html", takes_context=True)
def copy_crew_form(context: template.Context, crew: Any) -> dict[str, Any]:
    request = context["request"]
    targets = copy_targets(request.user, crew) if request.user.is_authenticated else []
    return {"crew": crew, "targets": targets, "form": CopyCrewForm(targets=targets), "csrf_token": context.get("csrf_token")}
