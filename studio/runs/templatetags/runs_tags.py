"""Template tags of runs.

    {% load runs_tags %}
    {{ message.content|markdown }}      sanitised markdown (studio/runs/markup.py)
    {{ run.duration_seconds|duration }} "1 min 05 s"
    {{ run.cost|usd }}                  "$0.0123"
    {% crew_runs_panel crew %}          the crew page's Run form and its latest runs
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from studio.accounts.models import Role
from studio.runs import markup
from studio.runs.models import Run

register = template.Library()

CREW_PANEL_RUNS = 5


@register.filter
def markdown(text: str | None) -> SafeString:
    return markup.markdown_html(text)


@register.filter
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes == 0:
        return f"{rest} s"
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{minutes} min {rest:02d} s"
    return f"{hours} h {minutes:02d} min"


@register.filter
def usd(value: float | None) -> str:
    value = float(value or 0.0)
    if value == 0:
        return "$0"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


@register.inclusion_tag("runs/_crew_runs.html", takes_context=True)
def crew_runs_panel(context: template.Context, crew: Any) -> dict[str, Any]:
    """`crew` must come from the access helpers (its workspace carries the user's `.role`)."""
    from studio.crews.services import run_problems

    role = getattr(crew.workspace, "role", Role.VIEWER)
    runs = list(Run.objects.filter(crew=crew).select_related("started_by")[:CREW_PANEL_RUNS])
    return {
        "crew": crew, "runs": runs, "can_run": Role.allows(role, Role.RUNNER),
        # The crew page has already worked these out for its canvas.
        "problems": context["problems"] if "problems" in context else run_problems(crew),
        "csrf_token": context.get("csrf_token"),
    }
