"""Team workspace pages: the list, create, switch, members, rename, delete, leave, audit log.

Every page that names a workspace resolves it with `get_membership_for_user` (404 outside the
user's workspaces, 403 for too weak a role) before anything else; members are addressed by their
public id within that workspace. Rule breaks (last owner, personal workspace, ...) come back from
studio.accounts.teams as TeamError and are shown as a message; nothing changes.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.accounts import audit, invitations, teams
from studio.accounts.access import choose_workspace, current_workspace, get_membership_for_user, memberships_of
from studio.accounts.forms import DeleteWorkspaceForm, RoleForm, WorkspaceNameForm
from studio.accounts.models import Membership, Role, Workspace
from studio.accounts.teams import TeamError

AUDIT_PAGE_SIZE = 50


def _workspace(request: HttpRequest, public_id: UUID, min_role: str) -> Workspace:
    membership = get_membership_for_user(request, public_id, min_role)
    workspace = membership.workspace
    workspace.role = membership.role
    return workspace


def _member(workspace: Workspace, user_public_id: UUID) -> Membership:
    membership = Membership.objects.select_related("user").filter(workspace=workspace, user__public_id=user_public_id).first()
    if membership is None:
        raise Http404("No such member")
    return membership


def _page_context(workspace: Workspace, tab: str, **extra: object) -> dict[str, object]:
    return {"workspace": workspace, "is_owner": workspace.role == Role.OWNER, "is_personal": teams.is_personal(workspace),
            "tab": tab, **extra}


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Your workspaces and the invitations waiting for you."""
    return render(request, "workspaces/index.html", {
        "memberships": memberships_of(request.user),
        "inbox": list(invitations.inbox(request.user)),
        "current": current_workspace(request),
    })


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    form = WorkspaceNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = teams.create_team_workspace(request.user, form.cleaned_data["name"])
        except TeamError as error:
            form.add_error("name", str(error))
        else:
            choose_workspace(request, workspace.public_id)
            messages.success(request, f"Created the team workspace “{workspace.name}”. Invite people from its members page.")
            return redirect("workspaces:members", public_id=workspace.public_id)
    return render(request, "workspaces/name_form.html", {"form": form, "title": "New team workspace",
                                                          "button": "Create workspace"})


@login_required
@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    """The header switcher: make another of the user's workspaces the current one."""
    workspace = choose_workspace(request, request.POST.get("workspace", ""))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = ""
    messages.info(request, f"Now in “{workspace.name}”.")
    return redirect(target or "home")


@login_required
@require_GET
def members(request: HttpRequest, public_id: UUID) -> HttpResponse:
    workspace = _workspace(request, public_id, Role.VIEWER)
    rows = list(Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__username"))
    return render(request, "workspaces/members.html", _page_context(
        workspace, "members", members=rows, roles=Role.choices, owner_count=sum(m.role == Role.OWNER for m in rows),
        pending=invitations.open_invitations(workspace).count() if workspace.role == Role.OWNER else 0,
    ))


@login_required
@require_http_methods(["GET", "POST"])
def rename(request: HttpRequest, public_id: UUID) -> HttpResponse:
    workspace = _workspace(request, public_id, Role.OWNER)
    form = WorkspaceNameForm(request.POST or None, initial={"name": workspace.name})
    if request.method == "POST" and form.is_valid():
        try:
            workspace = teams.rename_workspace(workspace, request.user, form.cleaned_data["name"])
        except TeamError as error:
            form.add_error("name", str(error))
        else:
            messages.success(request, f"The workspace is now called “{workspace.name}”.")
            return redirect("workspaces:members", public_id=workspace.public_id)
    return render(request, "workspaces/name_form.html", {**_page_context(workspace, "settings"), "form": form,
                                                          "title": "Rename the workspace", "button": "Rename"})


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, public_id: UUID) -> HttpResponse:
    workspace = _workspace(request, public_id, Role.OWNER)
    form = DeleteWorkspaceForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            teams.delete_workspace(workspace, request.user, form.cleaned_data["confirm_name"])
        except TeamError as error:
            form.add_error(None, str(error))
            status = 400
        else:
            messages.success(request, f"Deleted the workspace “{workspace.name}” and everything in it.")
            return redirect("workspaces:index")
    return render(request, "workspaces/delete.html", {**_page_context(workspace, "settings"), "form": form,
                                                       "summary": teams.deletion_summary(workspace)}, status=status)


@login_required
@require_POST
def member_role(request: HttpRequest, public_id: UUID, user_id: UUID) -> HttpResponse:
    workspace = _workspace(request, public_id, Role.OWNER)
    membership = _member(workspace, user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Choose one of the roles: {', '.join(Role.labels)}.")
    else:
        try:
            teams.change_role(workspace, request.user, membership.user, form.cleaned_data["role"])
        except TeamError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"{membership.user.get_username()} is now {Role(form.cleaned_data['role']).label.lower()}.")
    return redirect("workspaces:members", public_id=workspace.public_id)


@login_required
@require_POST
def member_remove(request: HttpRequest, public_id: UUID, user_id: UUID) -> HttpResponse:
    workspace = _workspace(request, public_id, Role.OWNER)
    membership = _member(workspace, user_id)
    if membership.user_id == request.user.pk:
        return leave(request, public_id)
    try:
        teams.remove_member(workspace, request.user, membership.user)
    except TeamError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Removed {membership.user.get_username()} from “{workspace.name}”.")
    return redirect("workspaces:members", public_id=workspace.public_id)


@login_required
@require_POST
def leave(request: HttpRequest, public_id: UUID) -> HttpResponse:
    workspace = _workspace(request, public_id, Role.VIEWER)
    try:
        teams.leave_workspace(workspace, request.user)
    except TeamError as error:
        messages.error(request, str(error))
        return redirect("workspaces:members", public_id=workspace.public_id)
    messages.success(request, f"You left “{workspace.name}”.")
    return redirect("workspaces:index")


@login_required
@require_GET
def audit_log(request: HttpRequest, public_id: UUID) -> HttpResponse:
    workspace = _workspace(request, public_id, Role.VIEWER)
    page = Paginator(workspace.audit_events.select_related("actor"), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"event": event, "text": audit.describe(event)} for event in page]
    return render(request, "workspaces/audit.html", _page_context(workspace, "audit", page=page, rows=rows))
