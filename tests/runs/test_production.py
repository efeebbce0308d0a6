"""Production mode: Redis broker and channel layer, PostgreSQL, and real `celery -A workers worker`
processes (started, SIGKILLed and stopped by PID here). The fake LLM server runs in this process;
the workers call it over HTTP like any provider."""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client
from django.urls import reverse

from studio.runs import services
from studio.runs.models import Message, Run, RunStatus
from tests.factories import WorkspaceFactory, add_member
from tests.runs.support import counting_reply, execute_here, fake_llm_crew, human_crew, transcript, wait_until, workspace_of
from tests.plugins.processes import WorkerPool, worker_env

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

SEQ = re.compile(r'data-seq="(\d+)"')


@pytest.fixture
def pool(redis_url, postgres_url, settings, tmp_path, runs_queue, transactional_db):
    """Workers this test starts (and may kill), on the test's own queue."""
    from workers.celery import app

    env = worker_env(settings, redis_url, runs_queue, tmp_path, PARLEY_RUN_MAX_RECOVERIES="5")
    with WorkerPool(app, env, runs_queue, tmp_path) as workers:
        yield workers


@pytest.fixture(scope="module")
def module_worker(redis_url, postgres_url, django_db_setup, tmp_path_factory):
    """One worker process (2 threads) shared by the tests that never kill it: starting and stopping
    a worker costs seconds."""
    from django.conf import settings

    from workers.celery import app

    queue = f"parley-test-runs-{uuid.uuid4().hex[:12]}"
    log_dir = tmp_path_factory.mktemp("workers")
    # Its sweep stays out of the way of tests with their own workers (it would recover their runs
    # onto its own queue, correctly, but out of their reach).
    env = worker_env(settings, redis_url, queue, log_dir, PARLEY_RUN_SWEEP_SECONDS="3600")
    with WorkerPool(app, env, queue, log_dir) as workers:
        (worker,) = workers.start(1, concurrency=2)
        yield worker


@pytest.fixture
def worker(module_worker, settings, transactional_db):
    settings.PARLEY_RUNS_QUEUE = module_worker.queue  # runs started by this test go to it
    return module_worker


def fresh(run: Run) -> Run:
    return Run.objects.get(pk=run.pk)


def holder_pid(run: Run) -> int:
    match = re.search(r" pid (\d+)$", fresh(run).worker)
    assert match, fresh(run).worker
    return int(match.group(1))


def test_a_worker_process_runs_a_crew_and_every_turn_reaches_the_socket(
    worker, ws_client, redis_channel_layer, alice, fake_llm
):
    fake_llm.add_rule(text=counting_reply, chunk_delay=0.01)
    crew = fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=2)

    async def scenario():
        run = await sync_to_async(services.start_run)(crew, user=alice)
        async with ws_client.connect(f"/ws/runs/{run.public_id}/?last_seq=0", user=alice) as socket:
            frames = []
            while not re.search(r'data-status="(completed|failed)"', frames[-1] if frames else ""):
                frames.append(await socket.receive_from(timeout=20))
        return run, frames

    run, frames = async_to_sync(scenario)()
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, (run.error, worker.log())
    received = [int(seq) for frame in frames for seq in SEQ.findall(frame)]
    assert received == list(range(1, 7)) == [row[0] for row in transcript(run)]
    assert [row[3] for row in transcript(run)][1::2] == ["reply to 2 messages", "reply to 4 messages",
                                                           "reply to 6 messages"]
    assert run.worker.startswith(worker.nodename) and run.claims == 1


def test_sigkill_at_several_points_leaves_the_transcript_of_an_uninterrupted_run(pool, alice, fake_llm):
    fake_llm.reply(counting_reply)
    crew = fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=5)
    reference = services.start_run(crew, user=alice, dispatch=False)
    assert execute_here(reference) == RunStatus.COMPLETED
    expected = [row[1:] for row in transcript(reference)]
    assert len(expected) == 12

    fake_llm.reset()
    fake_llm.add_rule(text=counting_reply, delay=0.4)  # every LLM turn is a window to die in
    pool.start(2)
    run = services.start_run(crew, user=alice)
    killed = []

    def kill_holder() -> None:
        victim = pool.by_pid(holder_pid(run))
        victim.kill()
        killed.append((victim.name, fresh(run).last_seq))
        pool.start(1, wait=False)  # a replacement, so a spare is always there

    # 1: in the middle of an LLM call, two messages saved.
    wait_until(lambda: fresh(run).last_seq >= 2, timeout=30, what="seq 2")
    kill_holder()
    # 2: right after another worker took the run over, before it saved anything.
    wait_until(lambda: fresh(run).claims >= 2 and fresh(run).status == RunStatus.RUNNING, timeout=30, what="takeover")
    kill_holder()
    # 3: later in the chat, in an LLM call again.
    wait_until(lambda: fresh(run).last_seq >= 7, timeout=30, what="seq 7")
    kill_holder()

    wait_until(lambda: fresh(run).status in (RunStatus.COMPLETED, RunStatus.FAILED), timeout=60, what="the end")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, (run.error, killed, pool.logs())
    assert [row[1:] for row in transcript(run)] == expected
    assert [row[0] for row in transcript(run)] == list(range(1, 13))
    assert run.recoveries == 3 and run.claims >= 4
    assert [seq for _, seq in killed][0] >= 2 and len(killed) == 3


def test_two_concurrent_replies_make_exactly_one_continuation(worker, alice, bob):
    team = WorkspaceFactory()
    add_member(team, alice, "owner")
    add_member(team, bob, "runner")
    run = services.start_run(human_crew(team, alice), user=alice)
    wait_until(lambda: fresh(run).status == RunStatus.AWAITING_INPUT, timeout=20, what="the first question")
    question = services.open_request(fresh(run))
    url = reverse("runs:reply", args=[run.public_id, question.public_id])
    barrier = threading.Barrier(2)
    responses = {}

    def reply(user) -> None:
        from django.db import connection

        client = Client()
        client.force_login(user)
        barrier.wait(timeout=10)
        try:
            responses[user.username] = client.post(url, {"action": "reply", "answer": f"From {user.username}."})
        finally:
            connection.close()

    threads = [threading.Thread(target=reply, args=(user,)) for user in (alice, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)

    assert sorted(r.status_code for r in responses.values()) == [200, 409]
    winner = next(name for name, r in responses.items() if r.status_code == 200)
    wait_until(lambda: fresh(run).status == RunStatus.AWAITING_INPUT and fresh(run).last_seq == 4, timeout=20,
               what="the second question")
    time.sleep(0.5)  # room for a (wrong) second continuation to show up
    run.refresh_from_db()
    assert run.claims == 2, worker.log()  # the start, and exactly one continuation
    humans = list(Message.objects.filter(run=run, from_human=True).values_list("content", flat=True))
    assert humans == [f"From {winner}."]


def test_runs_waiting_for_people_hold_no_worker_slot(worker, alice, fake_llm):
    from workers.celery import app
    crew = human_crew(workspace_of(alice), alice)
    waiting = [services.start_run(crew, user=alice) for _ in range(4)]
    for run in waiting:
        wait_until(lambda: fresh(run).status == RunStatus.AWAITING_INPUT, timeout=30, what="every run waiting")

    active = app.control.inspect(destination=[worker.nodename], timeout=2).active() or {}
    assert active.get(worker.nodename) == [], active  # four runs wait, both slots are free
    fake_llm.reply(counting_reply)
    busy = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=1), user=alice)
    wait_until(lambda: fresh(busy).status == RunStatus.COMPLETED, timeout=20, what="a new run to finish")
    for run in waiting:
        services.reply_to_request(services.open_request(fresh(run)), user=alice, action="end")
    for run in waiting:
        wait_until(lambda: fresh(run).status == RunStatus.COMPLETED, timeout=20, what="every run ended")
