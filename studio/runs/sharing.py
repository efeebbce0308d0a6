"""Read-only share links for runs: whoever holds the link watches one run's transcript, live, and
nothing else.

A link's token (`secrets.token_urlsafe`) exists in plain text once, on the page of the member who
made it; only its SHA-256 is stored. A link works while it is neither revoked nor expired. Every
request and every websocket event checks that again, and revoking rings the link's own group so
its open sockets close at once (studio/runs/shared_consumer.py).

Who: a runner or stronger makes a link; every member of the run's workspace sees the list; an
owner revokes. The shared page (templates/runs/shared.html) shows the run's transcript and status
only: no reply or stop controls, no crew configuration, no workspace names or lists, no keys.

The model, its service functions, its views and their URL patterns live here together; the
runs app includes `urlpatterns` (studio/runs/urls.py) and models.py imports the model.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import models, transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.accounts import audit
from studio.accounts.audit import Action
from studio.accounts.models import Role, User
from studio.runs.access import get_run_for_user
from studio.runs.models import Run
from studio.runs.services import open_request

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 200  # longer than any token we make: refused before hashing
EXPIRY_CHOICES = [("", "Until revoked"), ("1", "1 day"), ("7", "7 days"), ("30", "30 days")]
MAX_EXPIRY = timedelta(days=365)
FRESH_LINK_KEY = "parley_new_share"  # the session's one-time copy of a link just made
CLOSE_LINK_GONE = 4403  # same code as /ws/runs/ when access ends mid-stream


# ---- the model -------------------------------------------------------------------------------------------


class RunShareQuerySet(models.QuerySet):
    def working(self) -> "RunShareQuerySet":
        """Links that still open their run: not revoked, not expired."""
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))


class RunShare(models.Model):
    """A read-only link to one run."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="shares")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until revoked.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RunShareQuerySet.as_manager()

    class Meta:
        app_label = "runs"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"read-only link to {self.run_id} ({self.state})"

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


# ---- service -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewShare:
    """A just-made link and its token: the only moment the token exists in plain text."""

    share: RunShare
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def group_for_share(share_public_id: UUID | str) -> str:
    """The group the sockets opened through one link join (besides the run's group)."""
    return f"share.{UUID(str(share_public_id)).hex}"


def create_share(run: Run, user: User | None, *, expires_in: timedelta | None = None) -> NewShare:
    """A new link to `run`. The caller has checked the user's role (runner or stronger)."""
    if expires_in is not None and not (timedelta(0) < expires_in <= MAX_EXPIRY):
        raise ValueError(f"expires_in must be positive and at most {MAX_EXPIRY.days} days (got {expires_in!r})")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = timezone.now() + expires_in if expires_in is not None else None
    with transaction.atomic():
        share = RunShare.objects.create(run=run, token_hash=hash_token(token), created_by=user, expires_at=expires_at)
        audit.record(run.workspace, user, Action.RUN_SHARED, run, crew=run.crew_name, link=str(share.public_id),
                     expires_at=expires_at)
    return NewShare(share, token)


def revoke_share(share: RunShare, user: User | None) -> bool:
    """Stop the link at once (pages 404, open sockets close). False when it was already revoked."""
    with transaction.atomic():
        changed = RunShare.objects.filter(pk=share.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=user
        )
        if changed:
            run = share.run
            audit.record(run.workspace, user, Action.RUN_SHARE_REVOKED, run, crew=run.crew_name,
                         link=str(share.public_id))
            group = group_for_share(share.public_id)
            transaction.on_commit(lambda: _announce_revoked(group))
    return bool(changed)


def _announce_revoked(group: str) -> None:
    from workers import relay

    try:
        relay.publish(group, {"type": "share.revoked"})  # type: ignore[arg-type]
    except RuntimeError as error:
        logger.debug("share revocation not relayed: %s", error)  # nobody can be watching through this process
    except Exception:  # sockets still close at their next event, which re-checks the link
        logger.warning("share revocation for %s could not be relayed", group, exc_info=True)


def find_share(token: str) -> RunShare | None:
    """The working link with this token, with its run; None for anything else."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return RunShare.objects.working().select_related("run").filter(token_hash=hash_token(token)).first()


def still_works(share_pk: int) -> bool:
    return RunShare.objects.working().filter(pk=share_pk).exists()


# ---- member pages: the list of links, making one, revoking one --------------------------------------------


class ShareForm(forms.Form):
    expires = forms.ChoiceField(label="The link works", choices=EXPIRY_CHOICES, required=False,
                                error_messages={"invalid_choice": "Choose how long the link works from the list."})

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("label_suffix", "")  # labels sit above their fields, like the studio's other forms
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def expires_in(self) -> timedelta | None:
        days = self.cleaned_data.get("expires")
        return timedelta(days=int(days)) if days else None


def shared_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("runs:shared", kwargs={"token": token}))


@login_required
@require_http_methods(["GET", "POST"])
def shares(request: HttpRequest, run_id: UUID) -> HttpResponse:
    """GET: the run's links (members). POST: make a link (runner or stronger)."""
    run = get_run_for_user(request, run_id, Role.RUNNER if request.method == "POST" else Role.VIEWER)
    form = ShareForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            made = create_share(run, request.user, expires_in=form.expires_in())
            # Post/redirect/get: the plain link is kept for the one page view that shows it.
            request.session[FRESH_LINK_KEY] = {"run": str(run.public_id), "share": str(made.share.public_id),
                                               "url": shared_url(request, made.token)}
            messages.success(request, "Made a read-only link. Copy it now: Parley shows it only once.")
            return redirect("runs:shares", run_id=run.public_id)
        status = 400
    fresh = request.session.get(FRESH_LINK_KEY) if request.method == "GET" else None
    if fresh and fresh.get("run") == str(run.public_id):
        request.session.pop(FRESH_LINK_KEY)
    else:
        fresh = None
    links = list(run.shares.select_related("created_by", "revoked_by"))
    return render(request, "runs/shared_links.html", {
        "run": run, "links": links, "form": form, "fresh": fresh,
        "can_share": Role.allows(run.role, Role.RUNNER), "can_revoke": run.role == Role.OWNER,
    }, status=status)


@login_required
@require_POST
def share_revoke(request: HttpRequest, run_id: UUID, share_id: UUID) -> HttpResponse:
    run = get_run_for_user(request, run_id, Role.OWNER)
    share = RunShare.objects.select_related("run__workspace").filter(run=run, public_id=share_id).first()
    if share is None:
        raise Http404("No such link")
    if revoke_share(share, request.user):
        messages.success(request, "Revoked the link: it no longer opens the run, and open views of it closed.")
    else:
        messages.info(request, "That link was already revoked; nothing changed.")
    return redirect("runs:shares", run_id=run.public_id)


# ---- the shared page (no login: the token is the access) ------------------------------------------------


def _private(response: HttpResponse) -> HttpResponse:
    # The token is in the address: keep it out of Referer headers, caches and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_GET
def shared_run(request: HttpRequest, token: str) -> HttpResponse:
    share = find_share(token)
    if share is None:
        return _private(render(request, "runs/shared_gone.html", status=404))
    run = share.run
    context = {
        "run": run, "messages": run.messages.select_related("author").order_by("seq"), "question": open_request(run),
        "socket_path": f"/ws/shared/{token}/",
    }
    return _private(render(request, "runs/shared.html", context))


urlpatterns = [
    path("<uuid:run_id>/shares/", shares, name="shares"),
    path("<uuid:run_id>/shares/<uuid:share_id>/revoke/", share_revoke, name="share_revoke"),
    path("shared/<str:token>/", shared_run, name="shared"),
]
