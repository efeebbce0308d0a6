"""The run page's live path in production mode: worker threads publish through channels_redis (one
long-lived relay loop per process, not a loop and a Redis connection per call) and the page's
socket receives the fragments; a layer that is down never fails a run."""

from __future__ import annotations

import re
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from studio.runs import events, services
from studio.runs.models import Message, Run, RunStatus
from tests.runs.support import human_crew, workspace_of
from workers import relay

SEQ = re.compile(r'data-seq="(\d+)"')


def publish_from_threads(count: int, publish) -> list[BaseException]:
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            publish(number)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return errors


def test_worker_threads_reach_the_page_socket_through_redis_on_one_relay_loop(ws_client, redis_channel_layer, alice):
    run = services.start_run(human_crew(workspace_of(alice), alice), user=alice, dispatch=False)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, last_seq=8)
    Message.objects.bulk_create([Message(run=run, seq=seq, sender="helper", content=f"turn {seq}") for seq in range(1, 9)])
    loops = set()

    def publish(number: int) -> None:
        loops.add(relay._relay_loop())
        events.publish(events.tokens_event(run.public_id, "helper", f"piece {number} "))
        events.publish(events.message_event(run.public_id, number + 1))

    async def scenario():
        async with ws_client.connect(f"/ws/runs/{run.public_id}/", user=alice) as socket:
            await socket.send_to('{"type": "resume", "last_seq": 0}')
            frames = [await socket.receive_from(timeout=10), await socket.receive_from(timeout=10)]
            assert [int(s) for s in SEQ.findall(frames[0])] == list(range(1, 9))  # the replay
            errors = await sync_to_async(publish_from_threads, thread_sensitive=False)(8, publish)
            assert errors == []
            tokens = []
            while len(tokens) < 8:
                frame = await socket.receive_from(timeout=10)
                tokens += re.findall(r"piece (\d+)", frame)
                assert not SEQ.search(frame), "every message was replayed already: the doorbell must not repeat one"
            return sorted(int(t) for t in tokens)

    assert async_to_sync(scenario)() == list(range(8))
    assert len(loops) == 1 and next(iter(loops)).is_running()  # one relay loop for every thread


def test_a_layer_that_is_down_never_fails_a_run(settings, caplog):
    settings.CHANNEL_LAYERS = {  # nothing listens on port 1
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    event = events.status_event("00000000-0000-4000-8000-000000000000", "running", 0)
    with pytest.raises(Exception) as raised:
        relay.publish(relay.group_for_run(event["run"]), event)
    assert "127.0.0.1:1" in str(raised.value) or "refused" in str(raised.value).lower()

    errors = publish_from_threads(4, lambda n: events.publish(event))  # what the step loop calls
    assert errors == []
    assert relay.drain(timeout=10)
    assert "send nobody waited for failed" in caplog.text  # logged by the relay, not raised
    with pytest.raises(ValueError, match="area.name"):
        relay.publish("run.x", {"type": "bad type"})  # malformed events are still the caller's bug
