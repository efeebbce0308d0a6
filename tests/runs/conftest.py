"""Run tests: every test gets its own Celery queue for the run tasks it causes, so nothing it
enqueues can reach another worker on a shared Redis, and nothing is left behind."""

from __future__ import annotations

import time
import uuid

import pytest


@pytest.fixture(autouse=True)
def runs_queue(settings):
    name = f"parley-test-runs-{uuid.uuid4().hex[:12]}"
    settings.PARLEY_RUNS_QUEUE = name
    yield name
    from workers.celery import app

    if str(app.conf.broker_url).startswith("redis"):
        from tests.runs.support import remove_queue

        remove_queue(app, name)



@pytest.fixture
def queued(redis_url, runs_queue):
    """What this test put on the broker: a callable listing (task name, args), oldest first."""
    from tests.runs.support import queued_tasks

    return lambda: queued_tasks(runs_queue)


class DatabaseThread:
    """What run sockets ran through channels' database_sync_to_async (names, in order), and an
    optional delay before each call, so a test can make the database thread slow."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.delay = 0.0

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def db_thread(monkeypatch) -> DatabaseThread:
    from channels.db import DatabaseSyncToAsync

    thread = DatabaseThread()
    real = DatabaseSyncToAsync.thread_handler

    def observed(self, loop, *args, **kwargs):  # wraps channels' call; the real call still happens
        thread.calls.append(getattr(self.func, "__name__", repr(self.func)))
        if thread.delay:
            time.sleep(thread.delay)
        return real(self, loop, *args, **kwargs)

    monkeypatch.setattr(DatabaseSyncToAsync, "thread_handler", observed)
    return thread
