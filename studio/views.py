"""The studio home page. Later issues (crews) fill it; for now it shows the empty state."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studio.accounts.access import current_workspace


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/home.html", {"workspace": current_workspace(request)})
