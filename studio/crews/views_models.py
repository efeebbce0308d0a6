"""Model (LLM endpoint) pages: list, create/edit with the key input, the Test button, delete."""

from __future__ import annotations

import logging
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.accounts.models import User
from studio.crews import services
from studio.crews.fields import SecretUnreadable
from studio.crews.forms import ModelEndpointForm
from studio.crews.models import ModelEndpoint
from studio.crews.views import (
    WRITE,
    _get_model_for_user,
    can_edit,
    render_page,
    workspace_for_reading,
    workspace_for_writing,
)
from studio.crews.views_forms import posted_data, role_to_edit, save_form

logger = logging.getLogger(__name__)

LIST = "crews/model_list.html"
FORM = "crews/model_form.html"
DELETE = "crews/model_delete.html"


@login_required
@require_GET
def model_list(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for_reading(request)
    models = ModelEndpoint.objects.filter(workspace=workspace).annotate(agent_count=Count("agents")).order_by("name")
    return render_page(request, LIST, {"workspace": workspace, "models": models, "can_edit": can_edit(workspace)},
                       partial="model-table")


@login_required
@require_http_methods(["GET", "POST"])
def model_create(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for_writing(request)
    return _model_form(request, ModelEndpoint(workspace=workspace), editable=True)


@login_required
@require_http_methods(["GET", "POST"])
def model_edit(request: HttpRequest, public_id: UUID) -> HttpResponse:
    endpoint = _get_model_for_user(request, public_id, role_to_edit(request))
    return _model_form(request, endpoint, editable=can_edit(endpoint.workspace))


def _model_form(request: HttpRequest, endpoint: ModelEndpoint, *, editable: bool) -> HttpResponse:
    # Captured before the form touches the instance: a failed save must not change the page's
    # title or claim that a key is stored when it is not.
    title, key_stored, is_new = endpoint.name, endpoint.has_key, endpoint.pk is None
    form = ModelEndpointForm(posted_data(request), instance=endpoint)
    if saved := save_form(request, form, _save_model, message="Saved the model “{name}”.", then="crews:model_edit"):
        return saved
    context = {
        "form": form, "endpoint": endpoint, "title": title or "New model", "is_new": is_new,
        "key_stored": key_stored, "key_dropped": bool(request.POST.get("api_key", "").strip()), "can_edit": editable,
    }
    return render(request, FORM, context)


def _save_model(form: ModelEndpointForm, user: User) -> None:
    # An empty key input keeps the stored key; only the checkbox removes it.
    services.save_model(form.instance, user=user, api_key=form.cleaned_data["api_key"] or services.KEEP,
                        clear_key=form.cleaned_data["clear_key"])


@login_required
@require_POST
def model_test(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The Test button: one tiny request with the saved settings; the answer or the error in words."""
    endpoint = _get_model_for_user(request, public_id, WRITE)  # it spends the workspace's tokens
    try:
        result = services.test_model(endpoint)
        ok, text = bool(result.ok), str(result.message)
    except SecretUnreadable:
        ok, text = False, "The stored key cannot be decrypted with this installation's keys; paste the key again."
    except Exception:  # the button must answer in words whatever the provider's SDK raised
        logger.exception("testing model %s failed", endpoint.public_id)
        ok, text = False, "The test failed unexpectedly; the studio's log has the details."
    text = _without_key(endpoint, text)
    context = {"test_result": {"ok": ok, "message": text}, "endpoint": endpoint}
    if request.htmx:
        return render(request, f"{FORM}#test-result", context)
    form = ModelEndpointForm(instance=endpoint)
    context.update(form=form, title=endpoint.name, is_new=False, key_stored=endpoint.has_key, key_dropped=False,
                   can_edit=True)
    return render(request, FORM, context)


def _without_key(endpoint: ModelEndpoint, text: str) -> str:
    """Providers sometimes quote the key they rejected; never show it."""
    try:
        key = endpoint.reveal_key()
    except SecretUnreadable:
        return text
    return text.replace(key, "••••") if key else text


@login_required
@require_http_methods(["GET", "POST"])
def model_delete(request: HttpRequest, public_id: UUID) -> HttpResponse:
    endpoint = _get_model_for_user(request, public_id, WRITE)
    if request.method == "POST":
        name = endpoint.name
        services.delete_model(endpoint, user=request.user)
        messages.success(request, f"Deleted the model “{name}”.")
        return redirect("crews:model_list")
    return render(request, DELETE, {"endpoint": endpoint, "agents": services.agents_using_model(endpoint)})

