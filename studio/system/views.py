"""The System status page and its "Check the worker" action."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from studio.system.status import docker_status, runtime_status
from workers.relay import group_for_user

PAGE = "system/status.html"


@login_required
@require_GET
def status_page(request: HttpRequest) -> HttpResponse:
    return render(request, PAGE, {"runtime": runtime_status(), "websocket_path": "/ws/system/"})


@login_required
@require_GET
def docker_fragment(request: HttpRequest) -> HttpResponse:
    """Loaded by htmx after the page, so a slow Docker engine never delays the page itself."""
    return render(request, f"{PAGE}#docker-status", {"docker": docker_status(), "runtime": runtime_status()})


@login_required
@require_POST
def worker_check(request: HttpRequest) -> HttpResponse:
    from workers.tasks import worker_check as worker_check_task

    requested_at = time.time()
    worker_check_task.delay(group_for_user(request.user.public_id), requested_at)
    requested = datetime.fromtimestamp(requested_at, tz=timezone.utc)
    return render(request, f"{PAGE}#worker-request", {"requested": requested})
