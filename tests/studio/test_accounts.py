"""Accounts: sign-up, login/logout, password change, and the workspace access helpers."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from studio.accounts.access import current_workspace, get_workspace_for_user
from studio.accounts.models import Membership, Role, User, Workspace
from tests.factories import PASSWORD, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


def signup_data(username: str = "dora", password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "email": f"{username}@example.test", "password1": password, "password2": password}


def as_request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


# --- sign-up -------------------------------------------------------------------------------------


def test_signup_creates_user_personal_workspace_and_owner_membership(client):
    response = client.post("/accounts/signup/", signup_data("dora"))

    assert response.status_code == 302 and response.url == "/"
    user = User.objects.get(username="dora")
    assert user.email == "dora@example.test"
    assert user.check_password(PASSWORD)
    workspace = Workspace.objects.get(personal_for=user)
    assert workspace.name == "dora's workspace"
    assert Membership.objects.get(user=user, workspace=workspace).role == Role.OWNER
    # Signed up means logged in: the studio home shows the workspace and the empty state.
    home = client.get("/")
    assert home.status_code == 200
    assert "dora&#x27;s workspace" in home.content.decode()
    assert "No crews yet" in home.content.decode()


def test_signup_rejects_mismatched_passwords_and_duplicate_names(client, alice):
    mismatched = {**signup_data("erin"), "password2": "something-else-entirely-9"}
    response = client.post("/accounts/signup/", mismatched)
    assert response.status_code == 200
    assert not User.objects.filter(username="erin").exists()

    duplicate = client.post("/accounts/signup/", signup_data("ALICE"))
    assert duplicate.status_code == 200
    assert "already exists" in duplicate.content.decode()
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_signup_form_has_the_fixed_fields_and_button(client):
    page = client.get("/accounts/signup/").content.decode()
    for field in ("username", "email", "password1", "password2"):
        assert f'name="{field}"' in page
    assert ">Sign up</button>" in page


def test_login_page_points_to_signup_on_first_run_only(client):
    first_run = client.get("/accounts/login/").content.decode()
    assert "Create the first account" in first_run
    assert 'name="username"' in first_run and 'name="password"' in first_run
    assert ">Log in</button>" in first_run

    User.objects.create_user(username="someone", password=PASSWORD)
    later = client.get("/accounts/login/").content.decode()
    assert "Create the first account" not in later


# --- login, logout, password change -------------------------------------------------------------


def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_login_then_logout_by_post(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/"
    home = client.get("/").content.decode()
    assert "alice&#x27;s workspace" in home
    assert ">Log out</button>" in home

    assert client.get("/accounts/logout/").status_code == 405  # logout is POST only
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_login_rejects_a_wrong_password(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "not-the-password"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_password_change(client, alice):
    client.force_login(alice)
    new_password = "a-brand-new-passphrase-77"
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 302 and response.url == "/accounts/password/done/"
    alice.refresh_from_db()
    assert alice.check_password(new_password)
    # The session survives the change (Django rotates the session auth hash).
    assert client.get("/").status_code == 200


def test_password_change_needs_the_old_password(client, alice):
    client.force_login(alice)
    response = client.post(
        "/accounts/password/",
        {"old_password": "wrong", "new_password1": "another-passphrase-88", "new_password2": "another-passphrase-88"},
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


# --- access helpers ------------------------------------------------------------------------------


def test_each_cast_member_owns_a_personal_workspace(alice, bob, charlie):
    for user in (alice, bob, charlie):
        workspace = get_workspace_for_user(as_request(user), user.personal_workspace.public_id, min_role=Role.OWNER)
        assert workspace.name == f"{user.username}'s workspace"
        assert workspace.role == Role.OWNER


def test_access_helper_404_outside_403_for_too_weak_a_role(alice, bob, charlie):
    team = WorkspaceFactory(name="Research")
    add_member(team, alice, Role.OWNER)
    add_member(team, bob, Role.RUNNER)

    # alice (owner) passes every level.
    assert get_workspace_for_user(as_request(alice), team.public_id, min_role=Role.OWNER) == team
    # bob (runner) may view and run, not edit.
    assert get_workspace_for_user(as_request(bob), str(team.public_id), min_role=Role.RUNNER).role == Role.RUNNER
    with pytest.raises(PermissionDenied):
        get_workspace_for_user(as_request(bob), team.public_id, min_role=Role.EDITOR)
    # charlie is not a member: 404, whatever the role asked for.
    with pytest.raises(Http404):
        get_workspace_for_user(as_request(charlie), team.public_id)
    # Nobody reaches someone else's personal workspace.
    with pytest.raises(Http404):
        get_workspace_for_user(as_request(bob), alice.personal_workspace.public_id)
    # Unknown and malformed ids are 404 too, never a 500.
    with pytest.raises(Http404):
        get_workspace_for_user(as_request(alice), uuid.uuid4())
    with pytest.raises(Http404):
        get_workspace_for_user(as_request(alice), "not-a-uuid")


def test_access_helper_rejects_a_misspelt_role(alice):
    with pytest.raises(ValueError, match="role must be one of"):
        get_workspace_for_user(as_request(alice), alice.personal_workspace.public_id, min_role="admin")


def test_anonymous_user_gets_404():
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(Http404):
        get_workspace_for_user(as_request(AnonymousUser()), uuid.uuid4())


def test_current_workspace_is_personal_and_repairs_users_made_elsewhere():
    # createsuperuser does not go through sign-up; the studio still gives the user a workspace.
    admin = User.objects.create_superuser(username="root", email="root@example.test", password=PASSWORD)
    assert not Workspace.objects.filter(personal_for=admin).exists()
    workspace = current_workspace(as_request(admin))
    assert workspace.personal_for == admin and workspace.role == Role.OWNER
    assert workspace.name == "root's workspace"
