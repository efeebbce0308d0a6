"""A run socket reaches the database once per relay event: the access re-check and the reads it
needs share one `database_sync_to_async` call (one wait for the consumers' database thread). The
re-check stays in that call, so an event that finds access gone closes the socket instead.

Hops are counted where channels runs them (the `db_thread` fixture wraps channels'
DatabaseSyncToAsync.thread_handler; the real call still happens); both run sockets, the member's and a share link's, go through it."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from studio.accounts.models import Membership
from studio.runs import sharing
from studio.runs.models import Message, RunStatus
from studio.runs.sharing import RunShare
from tests.runs.support import waiting_team_run
from workers import relay


def seqs(frame: str) -> list[int]:
    return [int(s) for s in re.findall(r'data-seq="(\d+)"', frame)]


@pytest.mark.parametrize("through", ["membership", "share link"])
def test_every_event_is_one_hop_and_still_checks_access(ws_client, alice, bob, db_thread, through):
    hops = db_thread.calls
    team, run = waiting_team_run(alice, bob, "runner")
    assert run.status == RunStatus.AWAITING_INPUT and run.last_seq == 2
    if through == "membership":
        path, user = f"/ws/runs/{run.public_id}/", bob
        lose_access = Membership.objects.filter(user=bob, workspace=team).delete
    else:
        share = sharing.create_share(run, bob)
        path, user = f"/ws/shared/{share.token}/", None
        # Behind the service's back: no revocation doorbell, only the next event can notice.
        lose_access = RunShare.objects.filter(pk=share.share.pk).update
    group = relay.group_for_run(run.public_id)

    def append(seq: int) -> None:
        Message.objects.create(run=run, seq=seq, sender="helper", content=f"Late idea {seq}.")

    async def event(socket, body: dict, frames: int) -> tuple[list[str], list[str]]:
        """Publish one event; the frames it caused and the hops it took (trailing ones included)."""
        hops.clear()
        relay.publish(group, {"run": str(run.public_id), **body})
        received = [await socket.receive_from() for _ in range(frames)]
        assert await socket.receive_nothing(timeout=0.2)
        return received, list(hops)

    async def scenario():
        async with ws_client.connect(path, user=user) as socket:
            assert await socket.receive_nothing(timeout=0.2)  # the access check at connect comes after accept
            hops.clear()
            await socket.send_to(json.dumps({"type": "resume", "last_seq": 0}))
            replay = [await socket.receive_from(), await socket.receive_from()]
            assert await socket.receive_nothing(timeout=0.2)
            resumed = list(hops)

            await sync_to_async(append)(3)
            message = await event(socket, {"type": "run.message", "seq": 3}, frames=1)
            status = await event(socket, {"type": "run.status", "status": run.status, "seq": 3}, frames=1)
            tokens = await event(socket, {"type": "run.tokens", "agent": "helper", "text": "Thinking"}, frames=1)

            if through == "membership":
                await sync_to_async(lose_access)()
            else:
                await sync_to_async(lose_access)(revoked_at=timezone.now())
            await sync_to_async(append)(4)
            hops.clear()
            relay.publish(group, {"type": "run.message", "run": str(run.public_id), "seq": 4})
            output = await socket.receive_output(5)
            cut_off = list(hops)
        return replay, resumed, message, status, tokens, output, cut_off

    replay, resumed, message, status, tokens, output, cut_off = async_to_sync(scenario)()
    assert seqs(replay[0]) == [1, 2] and 'id="run-status"' in replay[1]
    assert len(resumed) == 1, resumed
    assert seqs(message[0][0]) == [3] and len(message[1]) == 1, message[1]
    assert 'id="run-status"' in status[0][0] and not seqs(status[0][0]) and len(status[1]) == 1, status[1]
    assert "Thinking" in tokens[0][0] and len(tokens[1]) == 1, tokens[1]
    # The row was there, but the re-check in the same hop found access gone: closed, nothing sent.
    assert output["type"] == "websocket.close" and output["code"] == 4403, output
    assert len(cut_off) == 1, cut_off
