"""Invitation pages: an owner's invite page, the link landing page, and the inbox answers.

A new invitation's link exists in plain text only once: it is kept in the owner's session for the
one page view that shows it (post/redirect/get), then only its hash remains.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from studio.accounts import invitations
from studio.accounts.access import choose_workspace
from studio.accounts.forms import InviteEmailForm, InviteLinkForm
from studio.accounts.invitations import NewInvitation
from studio.accounts.models import Invitation, Role
from studio.accounts.teams import TeamError
from studio.accounts.views_teams import _page_context, _workspace

FRESH_LINK_KEY = "parley_new_invitation"


def join_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("workspaces:join", kwargs={"token": token}))


def _remember_link(request: HttpRequest, made: NewInvitation) -> None:
    request.session[FRESH_LINK_KEY] = {
        "workspace": str(made.invitation.workspace.public_id),
        "invitation": str(made.invitation.public_id),
        "email": made.invitation.email,
        "role": made.invitation.get_role_display(),
        "url": join_url(request, made.token),
    }


@login_required
@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Owners invite by email or make a link, and see (and withdraw) the open invitations."""
    workspace = _workspace(request, public_id, Role.OWNER)
    kind = request.POST.get("kind") if request.method == "POST" else None
    email_form = InviteEmailForm(request.POST if kind == "email" else None, prefix="email")
    link_form = InviteLinkForm(request.POST if kind == "link" else None, prefix="link")
    status = 200
    if kind in ("email", "link"):
        form = email_form if kind == "email" else link_form
        if form.is_valid():
            data = form.cleaned_data
            try:
                if kind == "email":
                    made = invitations.invite_by_email(workspace, request.user, data["email"], data["role"], data["days"])
                else:
                    made = invitations.create_invite_link(workspace, request.user, data["role"], data["days"])
            except TeamError as error:
                form.add_error(None, str(error))
                status = 400
            else:
                _remember_link(request, made)
                return redirect("workspaces:invitations", public_id=workspace.public_id)
        else:
            status = 400
    fresh = request.session.get(FRESH_LINK_KEY)
    if fresh and fresh.get("workspace") == str(workspace.public_id) and request.method == "GET":
        request.session.pop(FRESH_LINK_KEY)  # shown once
    else:
        fresh = None
    rows = [{"invitation": inv, "expired": invitations.is_expired(inv)} for inv in invitations.open_invitations(workspace)]
    return render(request, "workspaces/invitations.html", _page_context(
        workspace, "invitations", email_form=email_form, link_form=link_form, fresh=fresh, rows=rows,
    ), status=status)


@login_required
@require_POST
def revoke(request: HttpRequest, public_id: UUID, invitation_id: UUID) -> HttpResponse:
    workspace = _workspace(request, public_id, Role.OWNER)
    invitation = Invitation.objects.filter(workspace=workspace, public_id=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation")
    try:
        invitations.revoke(invitation, request.user)
    except TeamError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Withdrew the {invitation}.")
    return redirect("workspaces:invitations", public_id=workspace.public_id)


def _answer(request: HttpRequest, invitation: Invitation, *, by_link: bool) -> HttpResponse | str:
    """Accept or decline as the POST says: a redirect on success, else the refusal in a sentence."""
    action = request.POST.get("action")
    try:
        if action == "accept":
            membership = invitations.accept(invitation, request.user, by_link=by_link)
        elif action == "decline":
            invitations.decline(invitation, request.user, by_link=by_link)
        else:
            raise TeamError("Choose Accept or Decline.")
    except TeamError as error:
        return str(error)
    if action == "decline":
        messages.info(request, f"You declined the invitation to “{invitation.workspace.name}”.")
        return redirect("workspaces:index")
    choose_workspace(request, membership.workspace.public_id)
    messages.success(request, f"Welcome to “{membership.workspace.name}”. You joined as "
                              f"{membership.get_role_display().lower()}.")
    return redirect("home")


@login_required
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """Where an invitation link lands: what it offers, and Accept / Decline (or why not)."""
    invitation = invitations.find_by_token(token)
    if invitation is None:
        return render(request, "workspaces/join.html", {"invitation": None}, status=404)
    refusal = None
    if request.method == "POST":
        outcome = _answer(request, invitation, by_link=True)
        if not isinstance(outcome, str):
            return outcome
        refusal = outcome
        invitation.refresh_from_db()
    return render(request, "workspaces/join.html", {
        "invitation": invitation, "problem": refusal or invitations.problem(invitation, request.user, by_link=True),
    }, status=400 if refusal else 200)


@login_required
@require_POST
def respond(request: HttpRequest, invitation_id: UUID) -> HttpResponse:
    """Accept or decline an email invitation from the inbox (no link needed)."""
    invitation = invitations.inbox(request.user).filter(public_id=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation")
    outcome = _answer(request, invitation, by_link=False)
    if isinstance(outcome, str):
        messages.error(request, outcome)
        return redirect("workspaces:index")
    return outcome
