"""Invitations: by email (inbox) and by link; accept, decline, withdraw; expired and used links;
inviting a member; and the single-use rule under racing accepts."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from studio.accounts import invitations
from studio.accounts.invitations import hash_token
from studio.accounts.models import AuditEvent, Invitation, InvitationStatus, Membership, User
from studio.accounts.teams import TeamError
from tests.factories import UserFactory
from tests.studio.teams_support import EDITOR, OWNER, RUNNER, VIEWER, actions, logged_in, make_team, role_of, text

pytestmark = pytest.mark.django_db

LINK = re.compile(r'value="(http://testserver/workspaces/join/([A-Za-z0-9_\-]+)/)"')


def invite(client, team, kind: str, **fields) -> str:
    """Make an invitation through the owner's page; returns the link the page shows (once)."""
    data = {"kind": kind, f"{kind}-role": fields.pop("role", EDITOR), f"{kind}-days": fields.pop("days", 7)}
    data.update({f"{kind}-{key}": value for key, value in fields.items()})
    response = client.post(f"/workspaces/{team.public_id}/invitations/", data)
    assert response.status_code == 302, text(response)
    page = text(client.get(response.url))
    found = LINK.search(page)
    assert found, "the new link is shown on the invitations page"
    return found.group(1).replace("http://testserver", "")


@pytest.fixture
def team(alice):
    return make_team(alice, "Research")


# --- by email ---------------------------------------------------------------------------------------


def test_invite_bob_by_email_he_accepts_from_his_inbox(client, alice, bob, team):
    link = invite(logged_in(client, alice), team, "email", email="  Bob@Example.TEST ", role=RUNNER)
    invitation = Invitation.objects.get(workspace=team)
    assert invitation.email == "bob@example.test" and invitation.role == RUNNER and invitation.invited_by == alice
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert invitation.token_hash == hash_token(token) and token not in invitation.token_hash  # only the hash is kept
    assert abs((invitation.expires_at - invitation.created_at) - timedelta(days=7)) < timedelta(seconds=5)
    # The link is shown once; the page lists the open invitation afterwards.
    again = text(client.get(f"/workspaces/{team.public_id}/invitations/"))
    assert token not in again and "bob@example.test" in again

    logged_in(client, bob)
    home = text(client.get("/"))
    assert 'class="switcher-count"' in home  # a waiting invitation shows in the header
    inbox = text(client.get("/workspaces/"))
    assert "Invitations for you" in inbox and "Research" in inbox and "from alice" in inbox

    response = client.post(f"/workspaces/inbox/{invitation.public_id}/", {"action": "accept"}, follow=True)
    assert "Welcome to “Research”. You joined as runner." in text(response)
    assert role_of(bob, team) == RUNNER
    assert "<h1>Research</h1>" in text(response)  # he lands in the team
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED and invitation.responded_by == bob
    assert actions(team) == ["workspace.created", "member.invited", "invitation.accepted"]
    assert AuditEvent.objects.get(action="invitation.accepted").actor == bob
    assert "Invitations for you" not in text(client.get("/workspaces/"))
    log = text(client.get(f"/workspaces/{team.public_id}/audit/"))
    assert "invited bob@example.test as runner" in log and "joined as runner by invitation" in log


def test_bob_declines_from_his_inbox(client, alice, bob, team):
    made = invitations.invite_by_email(team, alice, "bob@example.test", VIEWER)
    response = logged_in(client, bob).post(f"/workspaces/inbox/{made.invitation.public_id}/", {"action": "decline"},
                                           follow=True)
    assert "You declined the invitation to “Research”." in text(response)
    assert role_of(bob, team) is None
    made.invitation.refresh_from_db()
    assert made.invitation.status == InvitationStatus.DECLINED
    assert actions(team)[-1] == "invitation.declined"
    # Declined is final: the link says so and does nothing.
    page = client.post(f"/workspaces/join/{made.token}/", {"action": "accept"})
    assert page.status_code == 400 and "This invitation was declined." in text(page)
    assert role_of(bob, team) is None


def test_the_inbox_is_only_for_the_address_and_only_for_accounts_older_than_the_invitation(client, alice, bob, charlie,
                                                                                           team):
    made = invitations.invite_by_email(team, alice, "bob@example.test", EDITOR)
    # charlie cannot answer bob's invitation, from the inbox or with the link.
    assert logged_in(client, charlie).post(f"/workspaces/inbox/{made.invitation.public_id}/",
                                           {"action": "accept"}).status_code == 404
    refused = client.post(f"/workspaces/join/{made.token}/", {"action": "accept"})
    assert refused.status_code == 400 and "addressed to another email address" in text(refused)
    assert role_of(charlie, team) is None

    # An account made after the invitation with the same (unverified) address sees no inbox entry...
    copycat = UserFactory(username="bobby", email="BOB@example.test")
    logged_in(client, copycat)
    assert "Invitations for you" not in text(client.get("/workspaces/"))
    assert client.post(f"/workspaces/inbox/{made.invitation.public_id}/", {"action": "accept"}).status_code == 404
    # ...but the link itself, passed on by the owner, works for the address's owner.
    joined = client.post(f"/workspaces/join/{made.token}/", {"action": "accept"})
    assert joined.status_code == 302 and role_of(copycat, team) == EDITOR


def test_inviting_a_member_or_an_invited_address_again_is_refused(client, alice, bob, team):
    Membership.objects.create(workspace=team, user=bob, role=VIEWER)
    logged_in(client, alice)
    url = f"/workspaces/{team.public_id}/invitations/"
    member = client.post(url, {"kind": "email", "email-email": "BOB@example.test", "email-role": EDITOR, "email-days": 7})
    assert member.status_code == 400 and "bob (bob@example.test) is already a member of this workspace." in text(member)
    assert alice.email == "alice@example.test"
    assert not Invitation.objects.exists()

    invitations.invite_by_email(team, alice, "dora@example.test")
    twice = client.post(url, {"kind": "email", "email-email": "dora@example.test", "email-role": EDITOR, "email-days": 7})
    assert twice.status_code == 400 and "dora@example.test already has an open invitation" in text(twice)
    assert Invitation.objects.count() == 1
    # Once that one ran out, a new one replaces it.
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    invitations.invite_by_email(team, alice, "dora@example.test")
    assert sorted(Invitation.objects.values_list("status", flat=True)) == ["expired", "pending"]


def test_bad_invitation_input_is_refused_in_words(client, alice, team):
    logged_in(client, alice)
    url = f"/workspaces/{team.public_id}/invitations/"
    bad_email = client.post(url, {"kind": "email", "email-email": "not an address", "email-role": EDITOR,
                                  "email-days": 7})
    assert bad_email.status_code == 400 and "Enter a valid email address." in text(bad_email)
    too_long = client.post(url, {"kind": "link", "link-role": EDITOR, "link-days": 365})
    assert too_long.status_code == 400 and "less than or equal to 90" in text(too_long)
    with pytest.raises(TeamError, match="Choose one of the roles"):
        invitations.create_invite_link(team, alice, "admin")
    with pytest.raises(TeamError, match="between 1 and 90 days"):
        invitations.create_invite_link(team, alice, EDITOR, days=0)
    assert not Invitation.objects.exists()


def test_personal_workspaces_take_no_invitations(client, alice):
    personal = alice.personal_workspace
    with pytest.raises(TeamError, match="A personal workspace is not shared"):
        invitations.create_invite_link(personal, alice)
    page = text(logged_in(client, alice).get(f"/workspaces/{personal.public_id}/invitations/"))
    assert "A personal workspace is not shared." in page and 'name="kind"' not in page


# --- by link ----------------------------------------------------------------------------------------


def test_invite_by_link_anyone_logged_in_joins_once(client, alice, bob, charlie, team):
    link = invite(logged_in(client, alice), team, "link", role=EDITOR, days=3)
    invitation = Invitation.objects.get(workspace=team)
    assert invitation.email == "" and abs(invitation.expires_at - timezone.now() - timedelta(days=3)) < timedelta(minutes=1)

    page = text(logged_in(client, bob).get(link))
    assert "Join “Research”" in page and "alice invites you" in page and ">Accept</button>" in page
    joined = client.post(link, {"action": "accept"}, follow=True)
    assert "Welcome to “Research”. You joined as editor." in text(joined)
    assert role_of(bob, team) == EDITOR

    used = logged_in(client, charlie).post(link, {"action": "accept"})
    assert used.status_code == 400 and "This invitation has already been used." in text(used)
    assert "This invitation has already been used." in text(client.get(link))
    assert role_of(charlie, team) is None
    assert actions(team) == ["workspace.created", "member.invited", "invitation.accepted"]


def test_an_expired_link_says_so_and_changes_nothing(client, alice, bob, team):
    made = invitations.create_invite_link(team, alice, RUNNER)
    Invitation.objects.filter(pk=made.invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    url = f"/workspaces/join/{made.token}/"
    logged_in(client, bob)
    assert "This invitation expired on" in text(client.get(url)) and "Ask alice for a new one." in text(client.get(url))
    for action in ("accept", "decline"):
        response = client.post(url, {"action": action})
        assert response.status_code == 400 and "This invitation expired on" in text(response)
    made.invitation.refresh_from_db()
    assert made.invitation.status == InvitationStatus.PENDING and role_of(bob, team) is None
    assert actions(team) == ["workspace.created", "member.invited"]


def test_a_member_opening_a_link_is_told_and_the_link_stays_usable(client, alice, bob, team):
    made = invitations.create_invite_link(team, alice, VIEWER)
    url = f"/workspaces/join/{made.token}/"
    response = logged_in(client, alice).post(url, {"action": "accept"})
    assert response.status_code == 400 and "You are already a member of “Research”." in text(response)
    assert role_of(alice, team) == OWNER
    logged_in(client, bob).post(url, {"action": "accept"})
    assert role_of(bob, team) == VIEWER


def test_a_withdrawn_link_stops_working(client, alice, bob, charlie, team):
    made = invitations.create_invite_link(team, alice, EDITOR)
    revoke = f"/workspaces/{team.public_id}/invitations/{made.invitation.public_id}/revoke/"
    assert logged_in(client, charlie).post(revoke).status_code == 404
    response = logged_in(client, alice).post(revoke, follow=True)
    assert "Withdrew the invitation link." in text(response)
    assert "Withdrew" in text(response) and "No open invitations." in text(response)
    refused = logged_in(client, bob).post(f"/workspaces/join/{made.token}/", {"action": "accept"})
    assert "withdrawn by an owner" in text(refused) and role_of(bob, team) is None
    assert actions(team)[-1] == "invitation.revoked"
    again = logged_in(client, alice).post(revoke, follow=True)
    assert "already answered or withdrawn" in text(again)
    log = text(client.get(f"/workspaces/{team.public_id}/audit/"))
    assert "made an invitation link for a new editor" in log and "withdrew an invitation link" in log


def test_unknown_and_junk_tokens_are_404(client, bob):
    logged_in(client, bob)
    for token in ("nope", "x" * 43, "a" * 300):
        response = client.get(f"/workspaces/join/{token}/")
        assert response.status_code == 404 and "This invitation link is not valid" in text(response)


def test_a_newcomer_signs_up_from_the_link_and_comes_back_to_it(client, alice, team):
    made = invitations.create_invite_link(team, alice, EDITOR)
    url = f"/workspaces/join/{made.token}/"
    response = client.get(url)
    assert response.status_code == 302 and response.url == f"/accounts/login/?next={url}"
    login_page = text(client.get(response.url))
    assert f'href="/accounts/signup/?next={url}"' in login_page
    signed_up = client.post(f"/accounts/signup/?next={url}", {
        "username": "dora", "email": "dora@example.test", "password1": "correct-horse-battery-staple-42",
        "password2": "correct-horse-battery-staple-42", "next": url})
    assert signed_up.status_code == 302 and signed_up.url == url
    client.post(url, {"action": "accept"})
    assert role_of(User.objects.get(username="dora"), team) == EDITOR
    # An offsite "next" is ignored.
    client.post("/accounts/logout/")
    offsite = client.post("/accounts/signup/?next=https://evil.example/", {
        "username": "erin", "email": "erin@example.test", "password1": "correct-horse-battery-staple-42",
        "password2": "correct-horse-battery-staple-42"})
    assert offsite.url == "/"


def test_only_owners_manage_invitations(client, alice, bob, charlie, team):
    Membership.objects.create(workspace=team, user=bob, role=EDITOR)
    url = f"/workspaces/{team.public_id}/invitations/"
    assert logged_in(client, bob).get(url).status_code == 403
    assert client.post(url, {"kind": "link", "link-role": OWNER, "link-days": 7}).status_code == 403
    assert logged_in(client, charlie).get(url).status_code == 404
    assert not Invitation.objects.exists()
    with pytest.raises(TeamError, match="Only an owner"):
        invitations.create_invite_link(team, bob, OWNER)


# --- exactly once ------------------------------------------------------------------------------------


def test_a_stale_copy_cannot_accept_a_used_invitation(alice, bob, charlie, team):
    made = invitations.create_invite_link(team, alice, EDITOR)
    first, stale = (Invitation.objects.get(pk=made.invitation.pk) for _ in range(2))
    invitations.accept(first, bob)
    assert stale.status == InvitationStatus.PENDING  # what a concurrent request would still hold
    with pytest.raises(TeamError, match="already been used"):
        invitations.accept(stale, charlie)
    assert role_of(charlie, team) is None and team.memberships.count() == 2


# Real racing needs a server database: SQLite's in-memory test database (shared cache) refuses a
# second writer outright instead of queueing it, so these two run on PostgreSQL (CI) and skip locally.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_accepts_use_a_link_exactly_once(postgres_url, alice, bob, charlie):
    team = make_team(alice, "Research")
    extra = [UserFactory(username=f"racer{i}") for i in range(4)]
    racers = [bob, charlie, *extra]
    made = invitations.create_invite_link(team, alice, EDITOR)
    start = threading.Barrier(len(racers))
    outcomes: dict[str, str] = {}

    def race(user: User) -> None:
        try:
            invitation = invitations.find_by_token(made.token)  # each reads it while still pending
            start.wait(timeout=10)
            invitations.accept(invitation, user)
            outcomes[user.username] = "joined"
        except TeamError as error:
            outcomes[user.username] = str(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(user,)) for user in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)

    winners = [name for name, outcome in outcomes.items() if outcome == "joined"]
    assert len(outcomes) == len(racers) and len(winners) == 1, outcomes
    assert all(outcome == "This invitation has already been used." for name, outcome in outcomes.items()
               if name not in winners)
    assert set(team.memberships.values_list("user__username", flat=True)) == {"alice", winners[0]}
    assert Invitation.objects.get(pk=made.invitation.pk).responded_by.username == winners[0]
    assert actions(team).count("invitation.accepted") == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_user_racing_two_links_to_the_same_team_joins_once(postgres_url, alice, bob):
    team = make_team(alice, "Research")
    links = [invitations.create_invite_link(team, alice, role) for role in (EDITOR, VIEWER)]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def race(made) -> None:
        try:
            invitation = invitations.find_by_token(made.token)
            start.wait(timeout=10)
            invitations.accept(invitation, bob)
            outcomes.append("joined")
        except TeamError as error:
            outcomes.append(str(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(made,)) for made in links]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["You are already a member of “Research”.", "joined"]
    assert team.memberships.filter(user=bob).count() == 1
    # The losing link was not used up: it is still pending for someone else.
    statuses = sorted(Invitation.objects.filter(workspace=team).values_list("status", flat=True))
    assert statuses == ["accepted", "pending"]
