"""Server startup (studio/lifespan.py): each server process keeps one Redis pub/sub subscription of
its own, so the pub/sub layer's receive loop never idles and a run's first event is not held back.

Checked on real Redis, in this process through the lifespan protocol, and in real server processes
started the two ways Parley is served: `uvicorn studio.asgi:application` (compose.yaml) and
`manage.py serve`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from asgiref.sync import async_to_sync

from tests.plugins.processes import REPO, free_port, worker_env

pytestmark = pytest.mark.redis

LISTENING_PATTERN = "asgiparley.listening.*"  # the layer's default "asgi" prefix, then ours


def listening_channels(redis_url: str) -> set[bytes]:
    client = redis.Redis.from_url(redis_url)
    try:
        return set(client.pubsub_channels(LISTENING_PATTERN))
    finally:
        client.close()


class Lifespan:
    """Drives an ASGI app's lifespan protocol as a server does."""

    def __init__(self, app) -> None:
        self.app = app
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.sent: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None

    async def startup(self) -> dict:
        self.task = asyncio.create_task(self.app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                                 self.inbox.get, self.sent.put))  # fmt: skip
        await self.inbox.put({"type": "lifespan.startup"})
        return await asyncio.wait_for(self.sent.get(), 10)

    async def shutdown(self) -> dict:
        await self.inbox.put({"type": "lifespan.shutdown"})
        answer = await asyncio.wait_for(self.sent.get(), 10)
        await asyncio.wait_for(self.task, 10)
        return answer


async def first_event_delays(layer, trials: int) -> list[float]:
    """As a run socket lives: join a group, get the first event sent to it, leave. Seconds from
    the send to its receipt, one per trial, with the process left with no socket between trials."""
    delays = []
    for _ in range(trials):
        # Land anywhere in the receive loop's cycle (100 ms) when it idles.
        await asyncio.sleep(random.uniform(0.0, 0.12))
        group = f"run-{uuid.uuid4().hex}"
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        started = time.monotonic()
        await layer.group_send(group, {"type": "run.event", "seq": 1})
        event = await asyncio.wait_for(layer.receive(channel), 5)
        delays.append(time.monotonic() - started)
        assert event == {"type": "run.event", "seq": 1}
        await layer.group_discard(group, channel)
        # A consumer leaves by having its pending receive cancelled, which unsubscribes its channel.
        pending = asyncio.create_task(layer.receive(channel))
        await asyncio.sleep(0)
        pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
    return delays


def test_startup_subscribes_and_first_events_are_not_held_back(redis_channel_layer, redis_url):
    from channels.layers import get_channel_layer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from studio.asgi import application

    before = listening_channels(redis_url)

    async def scenario():
        layer = get_channel_layer()
        assert isinstance(layer, RedisPubSubChannelLayer)
        server = Lifespan(application)
        assert await server.startup() == {"type": "lifespan.startup.complete"}
        subscribed = listening_channels(redis_url) - before
        delays = await first_event_delays(layer, trials=8)
        still_subscribed = listening_channels(redis_url) - before
        assert await server.shutdown() == {"type": "lifespan.shutdown.complete"}
        return subscribed, delays, still_subscribed

    subscribed, delays, still_subscribed = async_to_sync(scenario)()

    assert len(subscribed) == 1, subscribed
    assert still_subscribed == subscribed, "sockets leaving must not drop the process's own subscription"
    # Without the subscription, each first event waits for the idle loop: 0-100 ms, ~50 on average.
    # With it, a few ms; one slow outlier is allowed on a busy host.
    assert sorted(delays)[-2] < 0.04, [round(delay * 1000, 1) for delay in delays]


def test_embedded_layer_needs_no_subscription(ws_client):
    from studio.lifespan import start_listening

    async def scenario():
        return start_listening()

    assert async_to_sync(scenario)() is None


SERVE_COMMANDS = {
    # As compose.yaml starts the web service (uvicorn's lifespan "auto").
    "uvicorn": ["-m", "uvicorn", "studio.asgi:application", "--host", "127.0.0.1", "--log-level", "warning", "--port"],
    "manage.py serve": ["manage.py", "serve", "--log-level", "warning", "--port"],
}


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("command", list(SERVE_COMMANDS))
def test_server_process_subscribes_at_startup(command, postgres_url, redis_url, transactional_db, settings,
                                              tmp_path: Path):  # fmt: skip
    import httpx

    env = worker_env(settings, redis_url, "unused", tmp_path, DJANGO_SETTINGS_MODULE="studio.settings")
    port = free_port()
    before = listening_channels(redis_url)
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, *SERVE_COMMANDS[command], str(port)], cwd=REPO, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"{command} exited:\n{log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{command} did not answer:\n{log_path.read_text()[-3000:]}"
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        # uvicorn answers only once startup is complete, and startup waits for the subscription.
        assert len(listening_channels(redis_url) - before) == 1, log_path.read_text()[-3000:]
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    assert listening_channels(redis_url) - before == set()
