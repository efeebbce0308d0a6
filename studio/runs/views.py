"""Thin views over studio.runs.services: start a run, answer its question, cancel it; the run page
and its panel refresh; the runs list (a workspace's, or one crew's, with status and crew filters).

The POST views answer htmx with a fragment (the notice line, plus an HX-Redirect for a new run),
and any other client with JSON: `{"ok": bool, "message": str, ...}`; status 409 when a reply
lost a race or the run had already ended, 400 for an invalid answer.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from studio.accounts.access import current_workspace
from studio.accounts.models import Role
from studio.runs import rendering, services
from studio.runs.access import get_crew_for_user, get_request_for_user, get_run_for_user
from studio.runs.models import ACTIVE_STATUSES, Run, RunStatus

RUNS_PER_PAGE = 50
STATUS_FILTERS = [("", "Any status"), ("active", "Active (queued, running or waiting)"), *RunStatus.choices]


def _answer(request: HttpRequest, ok: bool, message: str, status: int = 200, **extra: Any) -> HttpResponse:
    if request.htmx:
        # htmx swaps only 2xx answers by default; the notice says what went wrong either way.
        response = HttpResponse(rendering.notice_frame(message, ok))
        for header, value in extra.pop("headers", {}).items():
            response[header] = value
        return response
    extra.pop("headers", None)
    return JsonResponse({"ok": ok, "message": message, **extra}, status=status)


@login_required
@require_GET
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_run_for_user(request, run_id)
    can_reply = Role.allows(run.role, Role.RUNNER)
    context = rendering.run_context(run, services.open_request(run), can_reply)
    context["messages"] = run.messages.select_related("author").order_by("seq")
    return render(request, "runs/run.html", context)


@login_required
@require_GET
def panel(request: HttpRequest, run_id: str) -> HttpResponse:
    """The status line, header actions and usage chart as out-of-band fragments (the run page
    re-reads them after socket events)."""
    run = get_run_for_user(request, run_id)
    return HttpResponse(rendering.panel_frame(run, Role.allows(run.role, Role.RUNNER)))


@login_required
@require_POST
def start(request: HttpRequest, crew_id: str) -> HttpResponse:
    crew = get_crew_for_user(request, crew_id, Role.RUNNER)
    task = request.POST.get("task")
    try:
        run = services.start_run(crew, user=request.user, task=task)
    except ValidationError as error:
        return _answer(request, False, " ".join(error.messages), status=400)
    url = reverse("runs:detail", args=[run.public_id])
    if request.htmx:
        return _answer(request, True, "The run is queued.", headers={"HX-Redirect": url})
    if "application/json" not in request.headers.get("Accept", ""):
        return redirect(url)  # a plain form post
    return JsonResponse({"ok": True, "message": "The run is queued.", "run": str(run.public_id), "url": url}, status=201)


@login_required
@require_POST
def reply(request: HttpRequest, run_id: str, request_id: str) -> HttpResponse:
    run = get_run_for_user(request, run_id, Role.RUNNER)
    question = get_request_for_user(request, run, request_id)
    action = request.POST.get("action") or ("choose" if request.POST.get("choice") else "reply")
    try:
        result = services.reply_to_request(question, user=request.user, action=action,
                                           text=request.POST.get("answer", ""), choice=request.POST.get("choice"))
    except ValidationError as error:
        return _answer(request, False, " ".join(error.messages), status=400)
    return _answer(request, result.accepted, result.message, status=200 if result.accepted else 409,
                   answered_by=result.answered_by)


@login_required
@require_POST
def cancel(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_run_for_user(request, run_id, Role.RUNNER)
    if services.cancel_run(run, user=request.user):
        current = Run.objects.only("status").get(pk=run.pk).status
        message = "Cancelled." if current == "cancelled" else "Stopping after the current turn."
        return _answer(request, True, message, status=200, status_now=current)
    return _answer(request, False, "The run has already ended.", status=409, status_now=run.status)


@login_required
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    """The runs of the current workspace, or of one crew (`?crew=<id>`, in whatever workspace the
    crew is), newest first; `?status=` narrows them (a status, or "active")."""
    from studio.crews.models import Crew

    crew = None
    if request.GET.get("crew"):
        crew = get_crew_for_user(request, request.GET["crew"], Role.VIEWER)
        workspace = crew.workspace
    else:
        workspace = current_workspace(request)
    runs = Run.objects.filter(workspace=workspace).select_related("crew", "started_by")
    if crew is not None:
        runs = runs.filter(crew=crew)
    status = request.GET.get("status", "")
    if status == "active":
        runs = runs.filter(status__in=ACTIVE_STATUSES)
    elif status in RunStatus.values:
        runs = runs.filter(status=status)
    else:
        status = ""
    page = Paginator(runs.order_by("-created_at", "-id"), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "workspace": workspace, "crew": crew, "status": status, "page": page, "runs": page.object_list,
        "crews": Crew.objects.filter(workspace=workspace).order_by("name").only("public_id", "name"),
        "status_filters": STATUS_FILTERS,
    }
    template = "runs/run_list.html#runs-table" if request.htmx else "runs/run_list.html"
    return render(request, template, context)
