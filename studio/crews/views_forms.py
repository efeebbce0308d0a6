"""The create/edit steps the model, agent and crew pages share.

Each page keeps its own view functions (URL, access check, form, service call, template). What they
have in common is the order of the steps: bind the form on POST, let the service validate and save
(it also writes the version and the audit record), then either say so and redirect, or show the
form again with the service's objections placed on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseModelForm
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect

from studio.accounts.models import User
from studio.crews.views import READ, WRITE, place_errors

Form = TypeVar("Form", bound=BaseModelForm)


def role_to_edit(request: HttpRequest) -> str:
    """Anyone in the workspace may look at an edit page; sending it needs an editor."""
    return WRITE if request.method == "POST" else READ


def posted_data(request: HttpRequest) -> QueryDict | None:
    """What to bind a form to: the POST body, or None so that a GET shows the form unbound."""
    return request.POST if request.method == "POST" else None


def save_form(request: HttpRequest, form: Form, save: Callable[[Form, User], object], *, message: str,
              then: str) -> HttpResponse | None:
    """Save a bound and valid `form` through `save(form, user)`, a service call. After a save:
    `message` with `{name}` filled in, and the redirect to the `then` page of the saved object.
    None when the form is to be shown again: unbound, invalid, or refused by the service (its
    errors are then on the form)."""
    if not form.is_bound or not form.is_valid():
        return None
    try:
        save(form, request.user)
    except ValidationError as error:
        place_errors(form, error)
        return None
    messages.success(request, message.format(name=form.instance.name))
    return redirect(then, public_id=form.instance.public_id)
