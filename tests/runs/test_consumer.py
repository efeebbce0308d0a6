"""The run websocket (`/ws/runs/<uuid>/`) on the full ASGI stack with the in-memory layer, as in
embedded mode: the step loop runs in a worker thread and the relay hops onto this test's loop."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from studio.runs import services
from studio.runs.models import Run, RunStatus
from tests.factories import WorkspaceFactory, add_member
from tests.runs.support import Background, counting_reply, execute_here, fake_llm_crew, human_crew, workspace_of

SEQ = re.compile(r'data-seq="(\d+)"')


def seqs(frames: list[str]) -> list[int]:
    return [int(s) for frame in frames for s in SEQ.findall(frame)]


async def receive_until(socket, done, timeout: float = 15.0) -> list[str]:
    frames = []
    while True:
        frame = await socket.receive_from(timeout=timeout)
        frames.append(frame)
        if done(frame):
            return frames


def finished(frame: str) -> bool:
    return 'id="run-status"' in frame and re.search(r'data-status="(completed|failed|cancelled)"', frame) is not None


def resume(last_seq: int) -> str:
    return json.dumps({"type": "resume", "last_seq": last_seq})


def test_a_viewer_receives_every_turn_live_in_order_with_streamed_tokens(ws_client, alice, fake_llm):
    fake_llm.add_rule(text=counting_reply, chunk_delay=0.02)
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=2), user=alice)
    workers = []

    async def scenario():
        async with ws_client.connect(f"/ws/runs/{run.public_id}/", user=alice) as socket:
            assert socket.accepted
            await socket.send_to(resume(0))
            first = await socket.receive_from()
            assert 'data-status="queued"' in first and "data-seq" not in first
            workers.append(Background(run))
            return await receive_until(socket, finished)

    frames = async_to_sync(scenario)()
    assert workers[0].join() == RunStatus.COMPLETED
    assert seqs(frames) == list(range(1, 7))
    assert any('class="run-stream-text" data-agent="counter"' in f for f in frames)
    assert 'data-status="running"' in "".join(frames)
    last = frames[-1]
    assert 'data-status="completed"' in last and 'id="run-input" hx-swap-oob="true"' in last


def test_reconnecting_with_the_last_seq_replays_the_rest_and_doubles_nothing(ws_client, alice, fake_llm):
    fake_llm.add_rule(text=counting_reply, delay=0.25)
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=3), user=alice)
    path = f"/ws/runs/{run.public_id}/"
    workers = []

    async def scenario():
        async with ws_client.connect(f"{path}?last_seq=0", user=alice) as watcher:  # a second device
            async with ws_client.connect(path, user=alice) as socket:
                await socket.send_to(resume(0))
                workers.append(Background(run))
                before = await receive_until(socket, lambda f: len(seqs([f])) and max(seqs([f])) >= 2)
            # Away while the run goes on (the other device sees it); then back, saying what the
            # page already holds.
            await receive_until(watcher, lambda f: len(seqs([f])) and max(seqs([f])) >= 5)
            async with ws_client.connect(f"{path}?last_seq={max(seqs(before))}", user=alice) as socket:
                after = await receive_until(socket, finished)
        return before, after

    before, after = async_to_sync(scenario)()
    assert workers[0].join() == RunStatus.COMPLETED
    assert seqs(before) == list(range(1, max(seqs(before)) + 1))
    assert seqs(before) + seqs(after) == list(range(1, 9))
    replayed = seqs([after[0]])
    assert len(replayed) >= 5 - max(seqs(before))  # the missed messages came in one replay frame


@pytest.mark.django_db(transaction=True)
def test_outsiders_and_anonymous_visitors_get_no_events(ws_client, alice, bob):
    run = services.start_run(human_crew(workspace_of(alice), alice), user=alice)

    async def scenario():
        codes = []
        for user in (bob, None):
            socket = await sync_to_async(ws_client.communicator)(f"/ws/runs/{run.public_id}/", user)
            accepted, _ = await socket.connect()
            assert accepted  # accepted only to say why it closes
            codes.append(await socket.receive_close())
            await socket.disconnect(code=4404)
        missing = await sync_to_async(ws_client.communicator)("/ws/runs/00000000-0000-4000-8000-000000000000/", alice)
        await missing.connect()
        codes.append(await missing.receive_close())
        await missing.disconnect(code=4404)
        return codes

    assert async_to_sync(scenario)() == [4404, 4401, 4404]


def test_a_member_who_loses_access_is_cut_off_at_the_next_event(ws_client, alice, bob, fake_llm):
    from studio.accounts.models import Membership

    team = WorkspaceFactory()
    add_member(team, alice, "owner")
    add_member(team, bob, "viewer")
    fake_llm.add_rule(text=counting_reply, delay=0.2)
    run = services.start_run(fake_llm_crew(team, alice, fake_llm, limit=3), user=alice)
    workers = []

    async def scenario():
        async with ws_client.connect(f"/ws/runs/{run.public_id}/", user=bob) as socket:
            await socket.send_to(resume(0))
            await socket.receive_from()
            workers.append(Background(run))
            await receive_until(socket, lambda f: bool(seqs([f])))
            await sync_to_async(Membership.objects.filter(user=bob, workspace=team).delete)()
            code = None
            while code is None:  # at most the frames already in flight, then the close
                output = await socket.receive_output(10)
                if output["type"] == "websocket.close":
                    code = output.get("code")
            return code

    assert async_to_sync(scenario)() == 4403
    workers[0].join()


def test_a_reply_over_the_websocket_continues_the_run_once(ws_client, alice, bob, queued):
    team = WorkspaceFactory()
    add_member(team, alice, "runner")
    add_member(team, bob, "viewer")
    run = services.start_run(human_crew(team, alice), user=alice)
    execute_here(run)
    question = services.open_request(Run.objects.get(pk=run.pk))
    path = f"/ws/runs/{run.public_id}/?last_seq=0"
    reply = json.dumps({"type": "reply", "request": str(question.public_id), "action": "reply", "answer": "Sandwiches."})

    async def scenario():
        async with ws_client.connect(path, user=bob) as viewer:
            replayed = await viewer.receive_from()
            status = await viewer.receive_from()
            assert 'data-prompt-kind="always"' in status and "Only members with the runner role can answer." in status
            await viewer.send_to(reply)
            refused = await viewer.receive_from()
        async with ws_client.connect(path, user=alice) as runner:
            await runner.receive_from()
            status = await runner.receive_from()
            assert f'data-request="{question.public_id}"' in status and 'value="continue"' in status
            await runner.send_to(reply)
            accepted = await runner.receive_from()
            now_queued = await runner.receive_from()
        return replayed, refused, accepted, now_queued

    replayed, refused, accepted, now_queued = async_to_sync(scenario)()
    assert seqs([replayed]) == [1, 2]
    assert "You cannot answer this question." in refused and "bad" in refused
    assert "Thanks, the run continues." in accepted
    assert 'data-status="queued"' in now_queued and 'data-request=' not in now_queued
    assert [name for name, _ in queued()] == ["workers.tasks.start_run", "workers.tasks.continue_run"]
