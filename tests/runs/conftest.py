"""Run tests: every test gets its own Celery queue for the run tasks it causes, so nothing it
enqueues can reach another worker on a shared Redis, and nothing is left behind."""

from __future__ import annotations

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
