"""Copy a crew into another workspace of yours: POST /workspaces/copy-crew/<crew uuid>/.

The crew is resolved through the access helpers (404 outside your workspaces, 403 below viewer);
the target must be one where you are editor or owner, else the form says so and nothing is copied.
The form is the partial templates/workspaces/_copy_crew.html, which crew pages can include with
`{% load teams %}{% copy_crew_form crew %}`; GET renders it on a page of its own.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from studio.accounts.access import choose_workspace, get_workspace_for_user
from studio.accounts.forms import CopyCrewForm
from studio.crews.copying import COPY_SOURCE_ROLE, CopyRefused, copy_crew_to_workspace, copy_targets
from studio.crews.models import Crew


def _crew(request: HttpRequest, public_id: UUID) -> Crew:
    crew = Crew.objects.select_related("workspace").filter(public_id=public_id).first()
    if crew is None:
        raise Http404("No such crew")
    crew.workspace = get_workspace_for_user(request, crew.workspace.public_id, COPY_SOURCE_ROLE)
    return crew


@login_required
@require_http_methods(["GET", "POST"])
def copy_crew(request: HttpRequest, public_id: UUID) -> HttpResponse:
    crew = _crew(request, public_id)
    targets = copy_targets(request.user, crew)
    form = CopyCrewForm(request.POST or None, targets=targets)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = copy_crew_to_workspace(crew, form.target_workspace(), request.user)
            except (CopyRefused, ValidationError) as error:
                form.add_error(None, error.messages if isinstance(error, ValidationError) else str(error))
            else:
                target = choose_workspace(request, result.crew.workspace.public_id)
                messages.success(request, f"Copied “{crew.name}” into “{target.name}”.")
                for line in result.messages()[1:]:
                    level = messages.WARNING if "needs an API key" in line else messages.INFO
                    messages.add_message(request, level, line)
                return redirect("crews:crew_detail", public_id=result.crew.public_id)
        status = 400
    return render(request, "workspaces/copy_crew.html", {"crew": crew, "form": form, "targets": targets}, status=status)
