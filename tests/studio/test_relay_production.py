"""Production relay: a real `celery -A workers worker` process publishes through Redis to a socket.

Path under test: worker_check enqueued on the Redis broker -> a separate Celery worker process
(thread pool) runs it -> relay.publish -> channels_redis -> SystemConsumer in this process ->
the rendered fragment on alice's socket, and nothing on bob's. This process's sockets are on the
Redis layer configured as in a deployment (redis_channel_layer).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Iterator

import pytest
from asgiref.sync import async_to_sync

from tests.plugins.processes import WorkerPool, WorkerProcess, worker_env
from workers.relay import group_for_user

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def celery_worker(redis_url, settings, tmp_path) -> Iterator[WorkerProcess]:
    """A real worker process on its own queue, stopped (by PID) when the test ends."""
    from workers.celery import app

    queue = f"parley-test-{uuid.uuid4().hex[:12]}"
    with WorkerPool(app, worker_env(settings, redis_url, queue, tmp_path), queue, tmp_path) as workers:
        (worker,) = workers.start(1)
        yield worker


def test_worker_process_event_reaches_alice_only(celery_worker, ws_client, redis_channel_layer, alice, bob):
    from workers.tasks import worker_check

    async def scenario():
        async with ws_client.connect("/ws/system/", user=bob) as bob_socket, ws_client.connect(
            "/ws/system/", user=alice
        ) as alice_socket:
            assert alice_socket.accepted and bob_socket.accepted
            # delay() with the test queue as its route, so no other worker on this Redis takes it.
            worker_check.apply_async(
                args=[group_for_user(alice.public_id), time.time()], queue=celery_worker.queue
            )
            html = await alice_socket.receive_from(timeout=20)
            assert await bob_socket.receive_nothing(timeout=1.0)
            return html

    html = async_to_sync(scenario)()

    assert f"Worker <strong>{celery_worker.nodename}</strong> answered in" in html
    latency = re.search(r'data-latency-ms="([0-9.]+)"', html)
    assert latency is not None and 0 <= float(latency.group(1)) < 20_000
    assert re.search(r"answered in \d+ ms", html)
