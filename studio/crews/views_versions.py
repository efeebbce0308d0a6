"""Version history of crews and agents: the list, a diff between two versions, restore."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from studio.crews.models import AgentDef, Crew
from studio.crews.versions import Change, diff_versions, list_versions, restore_version
from studio.crews.views import (
    READ,
    WRITE,
    _get_agent_for_user,
    _get_crew_for_user,
    can_edit,
    error_messages,
    render_page,
)

PAGE = "crews/versions.html"


def _number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _diff_rows(changes: list[Change]) -> list[dict[str, str]]:
    """Each change as (what, how): the label once, then what happened to it."""
    rows = []
    for change in changes:
        text, prefix = str(change), f"{change.label}: "
        rows.append({"label": change.label, "text": text[len(prefix):] if text.startswith(prefix) else text,
                     "kind": change.kind})
    return rows


def _versions_page(request: HttpRequest, subject: Crew | AgentDef) -> HttpResponse:
    versions = list(list_versions(subject))
    by_number = {version.number: version for version in versions}
    older, newer = by_number.get(_number(request.GET.get("older"))), by_number.get(_number(request.GET.get("newer")))
    if newer is not None and older is None and "older" not in request.GET:
        older = by_number.get(newer.number - 1)  # "what changed here": against the version before
    diff, diff_error = None, ""
    if older is not None and newer is not None:
        if older.number > newer.number:
            older, newer = newer, older
        diff = diff_versions(older, newer) if older.number != newer.number else []
    elif request.GET.get("older") or request.GET.get("newer"):
        diff_error = "Choose two versions of this list to compare."
    is_crew = isinstance(subject, Crew)
    context = {
        "subject": subject, "is_crew": is_crew, "versions": versions, "older": older, "newer": newer,
        "diff": None if diff is None else _diff_rows(diff), "diff_error": diff_error, "can_edit": can_edit(subject.workspace),
        "subject_url": reverse("crews:crew_detail" if is_crew else "crews:agent_edit", args=[subject.public_id]),
        "versions_url": reverse("crews:crew_versions" if is_crew else "crews:agent_versions", args=[subject.public_id]),
        "restore_name": "crews:crew_restore" if is_crew else "crews:agent_restore",
    }
    return render_page(request, PAGE, context, partial="diff")


def _restore(request: HttpRequest, subject: Crew | AgentDef, number: int) -> HttpResponse:
    version = subject.versions.filter(number=number).first()
    if version is None:
        raise Http404("No such version")
    is_crew = isinstance(subject, Crew)
    versions_url = "crews:crew_versions" if is_crew else "crews:agent_versions"
    try:
        _, notes = restore_version(version, user=request.user)
    except ValidationError as error:
        messages.error(request, f"Version {number} cannot be restored as it is:")
        for line in error_messages(error):
            messages.error(request, line)
        return redirect(versions_url, public_id=subject.public_id)
    messages.success(request, f"Restored version {number}; the restore is saved as a new version.")
    for note in notes:
        messages.info(request, note)
    return redirect("crews:crew_detail" if is_crew else "crews:agent_edit", public_id=subject.public_id)


@login_required
@require_GET
def crew_versions(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _versions_page(request, _get_crew_for_user(request, public_id, READ))


@login_required
@require_POST
def crew_restore(request: HttpRequest, public_id: UUID, number: int) -> HttpResponse:
    return _restore(request, _get_crew_for_user(request, public_id, WRITE), number)


@login_required
@require_GET
def agent_versions(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _versions_page(request, _get_agent_for_user(request, public_id, READ))


@login_required
@require_POST
def agent_restore(request: HttpRequest, public_id: UUID, number: int) -> HttpResponse:
    return _restore(request, _get_agent_for_user(request, public_id, WRITE), number)

