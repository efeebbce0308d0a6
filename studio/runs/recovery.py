"""Recovering runs whose worker vanished.

A worker marks the runs it holds as alive every PARLEY_RUN_HEARTBEAT_SECONDS. `sweep()` finds
running runs whose heartbeat is older than PARLEY_RUN_STALE_SECONDS and puts them back in the
queue (continue_run resumes from the last saved step), or, after PARLEY_RUN_MAX_RECOVERIES,
fails them with the reason in words. Every worker process runs it on a timer (workers/runkeeper.py);
`manage.py recover_runs` runs it once. Concurrent sweeps are safe: each change is a conditional
UPDATE on the exact state the sweep saw.

Broker redelivery (acks_late) and the sweep overlap on purpose; whichever task comes first claims
the run (studio.runs.persistence.claim_run) and the other finds nothing to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from studio.runs import conf
from studio.runs.events import enqueue_on_commit, publish_on_commit, status_event
from studio.runs.models import Run, RunStatus

logger = logging.getLogger(__name__)
BATCH = 200


@dataclass
class SweepReport:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    redispatched: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{len(self.requeued)} stale run(s) queued again, {len(self.failed)} failed, "
                f"{len(self.redispatched)} queued run(s) dispatched again")


def give_up_message(recoveries: int, heartbeat_at: datetime | None) -> str:
    seen = f" (last sign of life {heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)" if heartbeat_at else ""
    return (f"The worker running this run stopped responding{seen}, and the run had already been "
            f"recovered {recoveries} time(s), so Parley stopped trying. Everything up to the last "
            "saved turn is kept; start the run again to retry.")


def sweep(*, now: datetime | None = None, redispatch_queued: bool = False) -> SweepReport:
    """One pass over stale running runs. `redispatch_queued` also re-queues every queued run's task:
    for an in-memory broker at start-up, whose messages did not survive the previous process."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=conf.stale_seconds())
    limit = conf.max_recoveries()
    report = SweepReport()
    stale = (
        Run.objects.filter(status=RunStatus.RUNNING)
        .filter(Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True))
        .values("pk", "public_id", "lease", "recoveries", "heartbeat_at", "last_seq")[:BATCH]
    )
    for row in stale:
        seen = Run.objects.filter(pk=row["pk"], status=RunStatus.RUNNING, lease=row["lease"],
                                  heartbeat_at=row["heartbeat_at"])
        with transaction.atomic():
            if row["recoveries"] >= limit:
                changed = seen.update(status=RunStatus.FAILED, lease=None, finished_at=now,
                                      error=give_up_message(row["recoveries"], row["heartbeat_at"]))
                status, bucket = RunStatus.FAILED, report.failed
            else:
                changed = seen.update(status=RunStatus.QUEUED, lease=None, recoveries=F("recoveries") + 1)
                status, bucket = RunStatus.QUEUED, report.requeued
                if changed:
                    enqueue_on_commit("continue_run", row["public_id"])
            if changed:
                bucket.append(str(row["public_id"]))
                publish_on_commit(status_event(row["public_id"], status, row["last_seq"]))
    if redispatch_queued:
        for public_id in Run.objects.filter(status=RunStatus.QUEUED).values_list("public_id", flat=True):
            with transaction.atomic():
                enqueue_on_commit("continue_run", public_id)
            report.redispatched.append(str(public_id))
    if report.requeued or report.failed or report.redispatched:
        logger.info("run sweep: %s", report)
    return report
