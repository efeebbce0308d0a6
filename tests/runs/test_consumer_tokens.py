"""Token batches on a run socket: while one access check is under way, later batches gather and
share the next check, so a burst costs a few checks and a doorbell behind it waits for at most
one. Order holds: streamed text never follows the saved message that supersedes it, and nothing
goes out once access is gone.

The database thread is slowed (channels' DatabaseSyncToAsync.thread_handler, wrapped) so that a
burst really meets a check in progress."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from studio.accounts.models import Membership
from studio.runs.models import Message
from tests.runs.support import waiting_team_run
from workers import relay

HOP_SECONDS = 0.05


@pytest.fixture
def slow_hops(db_thread) -> list[str]:
    db_thread.delay = HOP_SECONDS
    return db_thread.calls


@pytest.fixture
def waiting_run(alice, bob):
    return waiting_team_run(alice, bob, "viewer")


def texts(frame: str) -> str:
    return "".join(re.findall(r'class="run-stream-text"[^>]*>([^<]*)<', frame))


def test_a_burst_shares_checks_and_never_follows_the_saved_message(ws_client, bob, waiting_run, slow_hops):
    team, run = waiting_run
    group = relay.group_for_run(run.public_id)
    pieces = [f"w{n} " for n in range(12)]

    async def scenario() -> tuple[list[str], list[str]]:
        async with ws_client.connect(f"/ws/runs/{run.public_id}/", user=bob) as socket:
            await socket.send_to(json.dumps({"type": "resume", "last_seq": run.last_seq}))
            await socket.receive_from()  # the status
            slow_hops.clear()
            for piece in pieces:
                relay.publish(group, {"type": "run.tokens", "run": str(run.public_id), "agent": "helper", "text": piece})
            frames = [await socket.receive_from(timeout=10)]  # the first check's batch
            await sync_to_async(Message.objects.create)(run=run, seq=run.last_seq + 1, sender="helper",
                                                        content="".join(pieces))
            relay.publish(group, {"type": "run.message", "run": str(run.public_id), "seq": run.last_seq + 1})
            while 'id="transcript"' not in frames[-1]:
                frames.append(await socket.receive_from(timeout=10))
            assert await socket.receive_nothing(timeout=3 * HOP_SECONDS * len(pieces))
            return frames, list(slow_hops)

    frames, hops = async_to_sync(scenario)()
    streamed = "".join(texts(frame) for frame in frames[:-1])
    # Whatever was streamed is the start of the reply, in order; the rest was superseded.
    assert streamed and "".join(pieces).startswith(streamed)
    assert all(not texts(frame) for frame in frames[-1:])
    # 12 batches and a doorbell with one check each would be 13 hops; gathered, a few suffice.
    assert len(hops) <= 4, hops


def test_batches_gathered_before_access_ends_are_never_sent(ws_client, bob, waiting_run, slow_hops):
    team, run = waiting_run
    group = relay.group_for_run(run.public_id)

    async def scenario():
        async with ws_client.connect(f"/ws/runs/{run.public_id}/", user=bob) as socket:
            await socket.send_to(json.dumps({"type": "resume", "last_seq": run.last_seq}))
            await socket.receive_from()
            await sync_to_async(Membership.objects.filter(user=bob, workspace=team).delete)()
            for n in range(5):
                relay.publish(group, {"type": "run.tokens", "run": str(run.public_id), "agent": "helper",
                                      "text": f"secret {n} "})
            return await socket.receive_output(5)

    output = async_to_sync(scenario)()
    assert output["type"] == "websocket.close" and output["code"] == 4403, output
