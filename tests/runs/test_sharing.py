"""Read-only share links (studio/runs/sharing.py, studio/runs/shared_consumer.py): who makes and
revokes them, what the shared page and its websocket show (the run, nothing else), and that a
revoked or expired link stops at once, for new requests and for sockets already open."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studio.accounts.models import AuditEvent
from studio.crews import services as crew_services
from studio.runs import services, sharing
from studio.runs.models import Run, RunStatus
from studio.runs.sharing import RunShare
from tests.factories import UserFactory, WorkspaceFactory, add_member
from tests.runs.support import Background, execute_here, human_crew
from tests.studio.crews_support import SECRET, make_model

# Never shown through a link: the team's name and the crew's configuration.
TEAM_NAME = "Hushed Lab TEAMNAME-51"
CONFIG_MARKER = "CREWCONFIG-93"


@pytest.fixture
def team(alice, bob, charlie):
    """alice owns it, bob runs crews, charlie watches; the crew's settings carry a marker."""
    workspace = WorkspaceFactory(name=TEAM_NAME)
    add_member(workspace, alice, "owner")
    add_member(workspace, bob, "runner")
    add_member(workspace, charlie, "viewer")
    return workspace


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def waiting_run(team, user) -> Run:
    """A run of a crew whose settings (not its transcript) carry the marker, waiting for a person."""
    crew = human_crew(team, user)
    crew.description = f"Uses {CONFIG_MARKER}"
    crew_services.save_crew(crew, user=user)
    helper = crew.recipient
    helper.system_message = f"You help. {CONFIG_MARKER}"
    crew_services.save_agent(helper, user=user)
    make_model(team, user, name=f"Keyed {CONFIG_MARKER}")  # a model with a key in the same workspace
    run = services.start_run(crew, user=user)
    execute_here(run)
    run.refresh_from_db()
    assert run.status == RunStatus.AWAITING_INPUT
    return run


def shares_url(run) -> str:
    return reverse("runs:shares", args=[run.public_id])


def make_link(client: Client, run, **data) -> str:
    """POST the form as a member would, then read the link off the page that shows it once."""
    made = client.post(shares_url(run), data)
    assert made.status_code == 302, made.content[:400]
    page = client.get(shares_url(run)).content.decode()
    return re.search(r'id="share-link" type="text" readonly value="([^"]+)"', page).group(1)


def test_a_runner_makes_a_link_that_is_shown_once_and_stored_as_a_hash(team, alice, bob, charlie):
    run = waiting_run(team, alice)
    runner = client_for(bob)

    link = make_link(runner, run, expires="7")
    token = re.fullmatch(r"http://testserver/runs/shared/([A-Za-z0-9_\-]{40,})/", link).group(1)
    share = RunShare.objects.get(run=run)
    assert share.token_hash == hashlib.sha256(token.encode()).hexdigest() and share.created_by == bob
    assert timedelta(days=6, hours=23) < share.expires_at - timezone.now() <= timedelta(days=7)
    again = runner.get(shares_url(run)).content.decode()
    assert token not in again and 'data-state="active"' in again  # listed, never shown again
    event = AuditEvent.objects.get(workspace=team, action="run.shared")
    assert event.actor == bob and token not in json.dumps(event.details)

    # Viewers see the list but may not make links; strangers learn nothing; nothing changed.
    viewer = client_for(charlie)
    assert viewer.get(shares_url(run)).status_code == 200
    assert "Make a read-only link" not in viewer.get(shares_url(run)).content.decode()
    assert viewer.post(shares_url(run), {}).status_code == 403
    assert client_for(UserFactory(username="dave")).get(shares_url(run)).status_code == 404
    assert client_for().post(shares_url(run), {}).status_code == 302  # to the login page
    bad = runner.post(shares_url(run), {"expires": "5000"})
    assert bad.status_code == 400 and "Choose how long the link works from the list." in bad.content.decode()
    assert RunShare.objects.filter(run=run).count() == 1


def test_the_shared_page_shows_the_run_and_nothing_beyond_it(team, alice, bob):
    run = waiting_run(team, alice)
    token = make_link(client_for(bob), run).rstrip("/").rsplit("/", 1)[1]

    for visitor in (client_for(), client_for(UserFactory(username="dave")), client_for(alice)):
        page = visitor.get(reverse("runs:shared", args=[token]))
        html = page.content.decode()
        assert page.status_code == 200
        assert html.count('data-seq="') == 2 and "Plan a picnic." in html and "Idea one." in html
        assert 'data-status="awaiting_input"' in html and "waits for a member of the team to answer" in html
        assert f'ws-connect="/ws/shared/{token}/"' in html
        # Code in messages is highlighted as on the run page.
        assert f'<link rel="stylesheet" href="{static("css/pygments.css")}">' in html
        # No controls, no way into the studio, nothing of the crew's settings or the workspace.
        for absent in ("<form", "<button", "<textarea", "/questions/", "/cancel/", "/crews/", "/workspaces/",
                       "/ws/runs/", CONFIG_MARKER, "TEAMNAME-51", SECRET, str(run.workspace.public_id)):
            assert absent not in html, absent
        assert page["Referrer-Policy"] == "no-referrer" and page["Cache-Control"] == "no-store"


def test_an_owner_revokes_a_link_and_it_stops_at_once(team, alice, bob):
    run = waiting_run(team, alice)
    token = make_link(client_for(bob), run).rstrip("/").rsplit("/", 1)[1]
    share = RunShare.objects.get(run=run)
    revoke = reverse("runs:share_revoke", args=[run.public_id, share.public_id])

    assert client_for(bob).post(revoke).status_code == 403  # runners make links; owners revoke them
    assert client_for(UserFactory(username="dave")).post(revoke).status_code == 404
    owner = client_for(alice)
    done = owner.post(revoke, follow=True)
    assert "Revoked the link" in done.content.decode() and 'data-state="revoked"' in done.content.decode()
    gone = client_for().get(reverse("runs:shared", args=[token]))
    assert gone.status_code == 404 and "Idea one." not in gone.content.decode()
    assert "already revoked" in owner.post(revoke, follow=True).content.decode()
    assert list(AuditEvent.objects.filter(workspace=team, action__startswith="run.share").values_list(
        "action", "actor__username").order_by("id")) == [("run.shared", "bob"), ("run.share_revoked", "alice")]
    # Another run's link id under this run is unknown here.
    other = sharing.create_share(waiting_run(WorkspaceFactory(), alice), alice).share
    assert owner.post(reverse("runs:share_revoke", args=[run.public_id, other.public_id])).status_code == 404


def test_expired_unknown_and_malformed_tokens_open_nothing(team, alice):
    run = waiting_run(team, alice)
    made = sharing.create_share(run, alice, expires_in=timedelta(days=1))
    url = reverse("runs:shared", args=[made.token])
    assert client_for().get(url).status_code == 200
    RunShare.objects.filter(pk=made.share.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client_for().get(url).status_code == 404
    for token in ("x", made.token[:-1], "A" * 300, made.share.token_hash):
        assert client_for().get(reverse("runs:shared", args=[token])).status_code == 404, token
    with pytest.raises(ValueError, match="expires_in must be positive"):
        sharing.create_share(run, alice, expires_in=timedelta(0))


# ---- the websocket ----------------------------------------------------------------------------------------


def frames_until(predicate):
    async def read(socket, timeout: float = 10.0) -> list[str]:
        frames = []
        while True:
            frames.append(await socket.receive_from(timeout=timeout))
            if predicate(frames[-1]):
                return frames
    return read


async def closed_with(socket, timeout: float = 5.0) -> int:
    """Skip frames already in flight; the close code."""
    while True:
        output = await socket.receive_output(timeout)
        if output["type"] == "websocket.close":
            return output.get("code")


def test_the_shared_socket_streams_the_run_read_only_and_closes_on_revoke(ws_client, alice, bob, team):
    run = waiting_run(team, alice)
    made = sharing.create_share(run, bob)
    question = services.open_request(run)
    path = f"/ws/shared/{made.token}/"
    workers = []

    async def scenario():
        async with ws_client.connect(path) as watcher:  # nobody logged in
            await watcher.send_to(json.dumps({"type": "resume", "last_seq": 0}))
            replay = await frames_until(lambda f: 'id="run-status"' in f)(watcher)
            # A reply over this socket is ignored: the link is read-only.
            await watcher.send_to(json.dumps({"type": "reply", "request": str(question.public_id), "action": "reply",
                                              "answer": "Sneaky."}))
            assert await watcher.receive_nothing(timeout=0.3)
            # A member answers elsewhere; the watcher sees the run go on, live.
            await sync_to_async(services.reply_to_request)(question, user=bob, action="reply", text="Bring lemonade.",
                                                           dispatch=False)
            workers.append(await sync_to_async(Background)(run))
            live = await frames_until(lambda f: 'data-status="awaiting_input"' in f)(watcher)
            await sync_to_async(workers[0].join)()
            await sync_to_async(lambda: sharing.revoke_share(RunShare.objects.get(pk=made.share.pk), alice))()
            code = await closed_with(watcher)
        return replay, live, code

    replay, live, code = async_to_sync(scenario)()
    replayed = "".join(replay)
    assert re.findall(r'data-seq="(\d+)"', replayed) == ["1", "2"]
    assert "waits for a member of the team to answer" in replayed
    for absent in ("<form", "<button", "/questions/", CONFIG_MARKER, "TEAMNAME-51"):
        assert absent not in replayed + "".join(live), absent
    assert "Bring lemonade." in "".join(live) and "Sneaky." not in "".join(live)
    assert code == sharing.CLOSE_LINK_GONE
    assert Run.objects.get(pk=run.pk).input_requests.filter(reply="Sneaky.").count() == 0

    async def reconnect():
        socket = await sync_to_async(ws_client.communicator)(path)
        await socket.connect()
        code = await socket.receive_close()
        await socket.disconnect(code=code)
        return code

    assert async_to_sync(reconnect)() == 4404  # revoked: like an unknown link


def test_every_event_rechecks_the_link_and_an_expiry_closes_an_idle_socket(ws_client, alice, team):
    from workers import relay

    run = waiting_run(team, alice)
    silent = sharing.create_share(run, alice)  # revoked behind the service's back: no doorbell
    timed = sharing.create_share(run, alice, expires_in=timedelta(days=1))
    RunShare.objects.filter(pk=timed.share.pk).update(expires_at=timezone.now() + timedelta(seconds=1.5))

    async def scenario():
        async with ws_client.connect(f"/ws/shared/{silent.token}/?last_seq=2") as quiet, \
                ws_client.connect(f"/ws/shared/{timed.token}/?last_seq=2") as expiring:
            await quiet.receive_from()  # the status
            await expiring.receive_from()
            await sync_to_async(RunShare.objects.filter(pk=silent.share.pk).update)(revoked_at=timezone.now())
            relay.publish(relay.group_for_run(run.public_id),
                          {"type": "run.status", "run": str(run.public_id), "status": run.status, "seq": 2})
            return await closed_with(quiet), await closed_with(expiring, timeout=5)

    assert async_to_sync(scenario)() == (sharing.CLOSE_LINK_GONE, sharing.CLOSE_LINK_GONE)
