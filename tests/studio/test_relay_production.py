"""Production relay: a real `celery -A workers worker` process publishes through Redis to a socket.

Path under test: worker_check enqueued on the Redis broker -> a separate Celery worker process
(thread pool) runs it -> relay.publish -> channels_redis -> SystemConsumer in this process ->
the rendered fragment on alice's socket, and nothing on bob's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync

from workers.relay import group_for_user

pytestmark = [pytest.mark.redis, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT = 30.0


def database_url_for_worker(database: dict) -> str | None:
    """The test database as a URL, so the worker uses the same one (None: not shareable)."""
    if database["ENGINE"] != "django.db.backends.postgresql":
        return None
    credentials = quote(database["USER"], safe="")
    if database.get("PASSWORD"):
        credentials += ":" + quote(database["PASSWORD"], safe="")
    return f"postgres://{credentials}@{database['HOST']}:{database.get('PORT') or 5432}/{database['NAME']}"


@pytest.fixture
def celery_worker(redis_url, settings, tmp_path):
    """A real worker process on its own queue, stopped (by PID) when the test ends."""
    from workers.celery import app

    queue = f"parley-test-{uuid.uuid4().hex[:12]}"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        REDIS_URL=redis_url,
        SECRET_KEY=settings.SECRET_KEY,
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
        ALLOWED_HOSTS=",".join(host for host in settings.ALLOWED_HOSTS if host != "testserver") or "localhost",
        PARLEY_DATA_DIR=str(tmp_path),
    )
    database_url = database_url_for_worker(settings.DATABASES["default"])
    if database_url:
        env["DATABASE_URL"] = database_url
    log_path = tmp_path / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "workers", "worker",
        "--pool", "threads", "-c", "2",
        "-Q", queue, "-n", f"{queue}@%h",
        "--without-gossip", "--without-mingle", "--loglevel", "INFO",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        nodename = wait_for_worker(app, queue, process, log_path)
        yield {"queue": queue, "nodename": nodename, "log": log_path}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        remove_queue(app, queue)


def remove_queue(app, name: str) -> None:
    """Leave the shared Redis as we found it: drop the test queue and its bindings.

    Celery created the queue with an exchange and routing key of the same name; declaring it on
    our channel first lets kombu know the bindings it must remove.
    """
    from kombu import Exchange, Queue

    with app.connection_for_write() as connection:
        queue = Queue(name, Exchange(name, type="direct"), routing_key=name).bind(connection.default_channel)
        queue.declare()
        queue.delete()


def wait_for_worker(app, queue: str, process: subprocess.Popen, log_path: Path) -> str:
    deadline = time.monotonic() + WORKER_READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the Celery worker exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        for reply in app.control.ping(timeout=0.5):
            for nodename in reply:
                if nodename.startswith(f"{queue}@"):
                    return nodename
    pytest.fail(f"the Celery worker did not answer a ping within {WORKER_READY_TIMEOUT:.0f} s:\n{log_path.read_text()[-3000:]}")


def test_worker_process_event_reaches_alice_only(celery_worker, ws_client, alice, bob, settings, redis_url):
    from workers.tasks import worker_check

    # This process must share the worker's channel layer (it is already Redis when REDIS_URL is set).
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }

    async def scenario():
        async with ws_client.connect("/ws/system/", user=bob) as bob_socket, ws_client.connect(
            "/ws/system/", user=alice
        ) as alice_socket:
            assert alice_socket.accepted and bob_socket.accepted
            # delay() with the test queue as its route, so no other worker on this Redis takes it.
            worker_check.apply_async(
                args=[group_for_user(alice.public_id), time.time()], queue=celery_worker["queue"]
            )
            html = await alice_socket.receive_from(timeout=20)
            assert await bob_socket.receive_nothing(timeout=1.0)
            return html

    html = async_to_sync(scenario)()

    assert f"Worker <strong>{celery_worker['nodename']}</strong> answered in" in html
    latency = re.search(r'data-latency-ms="([0-9.]+)"', html)
    assert latency is not None and 0 <= float(latency.group(1)) < 20_000
    assert re.search(r"answered in \d+ ms", html)
