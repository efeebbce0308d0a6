"""Crash recovery in one process: leases, the heartbeat sweep, and resuming from the last saved
step. (tests/runs/test_production.py SIGKILLs real worker processes.)"""

from __future__ import annotations

import dataclasses
import time

import pytest

from studio.runs import persistence, services
from studio.runs.models import Run, RunStatus
from studio.runs.recovery import sweep
from tests.runs.support import counting_reply, execute_here, fake_llm_crew, transcript, workspace_of

pytestmark = pytest.mark.django_db(transaction=True)


class WorkerDied(BaseException):
    """Stands for the process vanishing: not an Exception, so nothing in the step loop handles it."""


@pytest.fixture
def fast_recovery(settings):
    settings.PARLEY_RUN_HEARTBEAT_SECONDS = 0.05
    settings.PARLEY_RUN_STALE_SECONDS = 0.3
    settings.PARLEY_RUN_MAX_RECOVERIES = 2


def die_after(seq: int):
    """A publisher that lets the worker "die" right after the step reaching `seq` was saved, before
    anyone was told about it."""

    def publisher(event: dict) -> None:
        if event["type"] == "run.message" and event["seq"] >= seq:
            raise WorkerDied(f"killed after seq {event['seq']}")

    return publisher


def stale(run: Run) -> None:
    time.sleep(0.35)  # longer than PARLEY_RUN_STALE_SECONDS, and no heartbeat is running


def test_a_resumed_run_neither_loses_nor_repeats_a_message(alice, fake_llm, fast_recovery, queued):
    fake_llm.reply(counting_reply)
    crew = fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=4)
    reference = services.start_run(crew, user=alice, dispatch=False)
    assert execute_here(reference) == RunStatus.COMPLETED

    run = services.start_run(crew, user=alice, dispatch=False)
    for seq in (3, 6):
        with pytest.raises(WorkerDied):
            execute_here(run, publisher=die_after(seq))
        assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING
        assert execute_here(run) == "not claimed"  # a live-looking run is left alone
        stale(run)
        report = sweep()
        assert report.requeued == [str(run.public_id)]
        assert Run.objects.get(pk=run.pk).status == RunStatus.QUEUED
    assert execute_here(run) == RunStatus.COMPLETED

    run.refresh_from_db()
    assert [row[1:] for row in transcript(run)] == [row[1:] for row in transcript(reference)]
    assert (run.claims, run.recoveries) == (3, 2)
    assert [name for name, _ in queued()] == ["workers.tasks.continue_run"] * 2


def test_a_redelivered_task_takes_over_a_stale_run_directly(alice, fake_llm, fast_recovery):
    fake_llm.reply(counting_reply)
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=2), user=alice, dispatch=False)
    with pytest.raises(WorkerDied):
        execute_here(run, publisher=die_after(2))
    stale(run)

    assert execute_here(run) == RunStatus.COMPLETED  # what a redelivered start_run does
    run.refresh_from_db()
    assert (run.recoveries, run.last_seq) == (1, 6)
    assert [row[0] for row in transcript(run)] == list(range(1, 7))
    # Per-agent totals carry over from the first worker's saved steps to the second's.
    replies = [row for row in transcript(run) if row[2] == "counter"]
    assert run.usage_by_agent["counter"]["calls"] == len(replies) == 3


def test_a_worker_that_lost_its_run_cannot_write_to_it(alice, fake_llm, fast_recovery):
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm), user=alice, dispatch=False)
    first = persistence.claim_run(run.public_id, "worker one")
    assert persistence.claim_run(run.public_id, "worker two") is None  # held, and alive
    stale(run)
    second = persistence.claim_run(run.public_id, "worker two")
    assert second is not None and second.recovered and second.lease != first.lease

    step = persistence.StepOutcome(state={"version": 1}, drafts=[persistence.MessageDraft("text", "x", [], "late")])
    with pytest.raises(persistence.LostLease):
        persistence.save_step(first, step)
    assert not persistence.fail_run(first, "too late")
    saved = persistence.save_step(second, step)
    assert (saved.first_seq, saved.last_seq, saved.status) == (1, 1, RunStatus.RUNNING)
    assert transcript(run) == [(1, "text", "x", "late")]
    assert Run.objects.get(pk=run.pk).worker == "worker two"

    # The lease holder itself, with a stale idea of the transcript, cannot write either.
    behind = dataclasses.replace(second, last_seq=0)
    with pytest.raises(persistence.LostLease, match="has seq 1, this worker expected 0"):
        persistence.save_step(behind, step)
    assert transcript(run) == [(1, "text", "x", "late")]


def test_heartbeats_keep_a_long_step_alive(alice, fake_llm, fast_recovery):
    from tests.runs.support import Background, wait_until

    fake_llm.add_rule(text=counting_reply, delay=1.0)  # one LLM call outlasts the stale period 3 times
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=1), user=alice, dispatch=False)
    worker = Background(run)
    wait_until(lambda: Run.objects.get(pk=run.pk).last_seq >= 1, what="the opening message")
    for _ in range(4):
        time.sleep(0.2)
        assert sweep().requeued == []
    assert worker.join() == RunStatus.COMPLETED
    assert Run.objects.get(pk=run.pk).recoveries == 0


def test_after_too_many_recoveries_the_run_fails_with_the_reason(alice, fake_llm, fast_recovery):
    fake_llm.reply(counting_reply)
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=4), user=alice, dispatch=False)
    for seq in (2, 4, 6):
        with pytest.raises(WorkerDied):
            execute_here(run, publisher=die_after(seq))
        stale(run)
        report = sweep()
    assert report.failed == [str(run.public_id)]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.recoveries == 2 and run.finished_at
    assert "stopped responding" in run.error and "recovered 2 time(s)" in run.error
    assert run.last_seq == 6  # everything saved so far is kept


def test_an_in_memory_broker_restart_dispatches_queued_runs_again(alice, fake_llm, queued):
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm), user=alice)
    assert sweep().redispatched == []
    assert sweep(redispatch_queued=True).redispatched == [str(run.public_id)]
    assert [name for name, _ in queued()] == ["workers.tasks.start_run", "workers.tasks.continue_run"]


def test_a_group_chat_resumes_where_it_stopped(alice, fast_recovery):
    from studio.crews import services as crews
    from tests.runs.support import make_agent, replay_model

    ws = workspace_of(alice)
    model = replay_model(ws, alice, replies=["One.", "Two.", "Three."], when_exhausted="cycle")
    members = [make_agent(ws, alice, name=name, model=model, system_message=f"You are {name}.")
               for name in ("ann", "ben", "cat")]
    crew = crews.create_crew(ws, user=alice, name="Circle", kind="group", members=members, max_round=7,
                             speaker_selection="round_robin", task="Talk.")
    reference = services.start_run(crew, user=alice, dispatch=False)
    assert execute_here(reference) == RunStatus.COMPLETED
    reference_speakers = [m.payload for m in reference.messages.filter(kind="speaker_selection").order_by("seq")]

    run = services.start_run(crew, user=alice, dispatch=False)
    for seq in (3, 6):
        with pytest.raises(WorkerDied):
            execute_here(run, publisher=die_after(seq))
        stale(run)
        assert sweep().requeued == [str(run.public_id)]
    assert execute_here(run) == RunStatus.COMPLETED
    assert [row[1:] for row in transcript(run)] == [row[1:] for row in transcript(reference)]
    assert [m.payload for m in run.messages.filter(kind="speaker_selection").order_by("seq")] == reference_speakers


def test_recover_runs_command_runs_one_sweep(alice, fake_llm, fast_recovery):
    import io

    from django.core.management import call_command

    fake_llm.reply(counting_reply)
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm), user=alice, dispatch=False)
    with pytest.raises(WorkerDied):
        execute_here(run, publisher=die_after(1))
    stale(run)
    out = io.StringIO()
    call_command("recover_runs", stdout=out)
    assert out.getvalue().strip() == "1 stale run(s) queued again, 0 failed, 0 queued run(s) dispatched again"
    assert Run.objects.get(pk=run.pk).status == RunStatus.QUEUED
