"""Celery tasks. Thin: they load, call into the engine or the relay, and persist."""

from __future__ import annotations

import socket
import time

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
