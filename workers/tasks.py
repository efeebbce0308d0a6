"""Celery tasks. Thin: they load, call into the engine or the relay, and persist."""

from __future__ import annotations

import socket
import time

from celery.signals import worker_init, worker_shutdown

from workers import relay
from workers.celery import app


@app.task(name="workers.tasks.worker_check", bind=True)
def worker_check(self, group: str, requested_at: float) -> None:
    """Answer the System page's "Check the worker": who picked this up, and how long it queued.

    `requested_at` is the enqueuer's time.time(); web and worker clocks are assumed in sync
    (same host or NTP), which is good enough for a health check.
    """
    if not isinstance(requested_at, (int, float)):
        raise TypeError(f"requested_at must be a Unix timestamp in seconds (got {requested_at!r})")
    latency_ms = max(0.0, (time.time() - float(requested_at)) * 1000.0)
    relay.publish(
        group,
        {
            "type": "worker.check",
            "hostname": self.request.hostname or socket.gethostname(),
            "latency_ms": round(latency_ms, 1),
            "requested_at": float(requested_at),
        },
    )


# ---- runs ---------------------------------------------------------------------------------------------
# acks_late + reject_on_worker_lost: a worker that dies mid-run leaves the message to be delivered
# again, and the step loop resumes from the last saved step. Delivering a run's task twice is
# harmless: the run is claimed with one conditional UPDATE (workers/runloop.py).
RUN_TASK_OPTIONS = {"bind": True, "acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@app.task(name="workers.tasks.start_run", **RUN_TASK_OPTIONS)
def start_run(self, run_id: str) -> str:
    """Run a newly queued run until it ends or waits for a person."""
    from workers.runloop import execute, worker_label

    return execute(run_id, worker=worker_label(self.request.hostname))


@app.task(name="workers.tasks.continue_run", **RUN_TASK_OPTIONS)
def continue_run(self, run_id: str) -> str:
    """Continue a run from its saved snapshot: after a person's answer, or after its worker vanished."""
    from workers.runloop import execute, worker_label

    return execute(run_id, worker=worker_label(self.request.hostname))


@worker_init.connect
def _start_run_sweeper(sender=None, **kwargs) -> None:
    """Every worker process (embedded or `celery worker`) sweeps for stale runs on a timer."""
    from workers.runkeeper import sweeper

    # The in-memory broker of embedded mode loses its messages with the process: at start-up,
    # queued runs get their task again.
    in_memory = str(app.conf.broker_url or "").startswith("memory://")
    sweeper.start(redispatch_queued=in_memory)


@worker_shutdown.connect
def _stop_run_sweeper(sender=None, **kwargs) -> None:
    from workers.runkeeper import sweeper

    sweeper.stop()
