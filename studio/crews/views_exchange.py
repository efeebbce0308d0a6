"""Gallery, import and export pages."""

from __future__ import annotations

import json
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.crews.exchange import ImportResult, import_file
from studio.crews.forms import ImportForm
from studio.crews.gallery import copy_gallery_crew, list_gallery
from studio.crews.models import GalleryCrew
from studio.crews.snapshots import export_crew, participants
from studio.crews.views import READ, _get_crew_for_user, can_edit, place_errors, workspace_for_reading, workspace_for_writing

GALLERY = "crews/gallery.html"
IMPORT = "crews/import.html"


def _report(request: HttpRequest, result: ImportResult) -> None:
    """The import's outcome as page messages: what happened, then what was left out."""
    for line in result.messages():
        level = messages.WARNING if line.startswith("Not imported:") or "needs an API key" in line else messages.SUCCESS
        messages.add_message(request, level, line)


@login_required
@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for_reading(request)
    entries = []
    for entry in list_gallery():
        _, agents = participants(entry.crew)
        models = {agent.model for agent in agents if agent.model_id is not None}
        if entry.crew.manager_model_id is not None:
            models.add(entry.crew.manager_model)
        entries.append({
            "entry": entry, "crew": entry.crew, "agents": agents,
            "needs_key": sorted(model.name for model in models if model.needs_key),
        })
    return render(request, GALLERY, {"entries": entries, "can_edit": can_edit(workspace)})


@login_required
@require_POST
def gallery_use(request: HttpRequest, slug: str) -> HttpResponse:
    """"Use this crew": copy the gallery crew, its agents and models (never keys) into the workspace."""
    workspace = workspace_for_writing(request)
    try:
        result = copy_gallery_crew(slug, workspace, user=request.user)
    except GalleryCrew.DoesNotExist:
        raise Http404("No such gallery crew") from None
    except ValidationError as error:
        for line in error.messages:
            messages.error(request, line)
        return redirect("crews:gallery")
    _report(request, result)
    return redirect("crews:crew_detail", public_id=result.crew.public_id)


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for_writing(request)
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                result = import_file(workspace, user=request.user, data=form.payload())
            except ValidationError as error:  # the payload's own refusal, or the import's
                place_errors(form, error)  # "document" errors go to the top of the form
            else:
                _report(request, result)
                return redirect("crews:crew_detail", public_id=result.crew.public_id)
    else:
        form = ImportForm()
    return render(request, IMPORT, {"form": form})


@login_required
@require_GET
def crew_export(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The crew as a Parley crew file (docs/crew-format.md): agents and models, never keys."""
    crew = _get_crew_for_user(request, public_id, READ)
    body = json.dumps(export_crew(crew), indent=2, ensure_ascii=False) + "\n"
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"{slugify(crew.name) or 'crew'}.parley.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
