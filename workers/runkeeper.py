"""Per-process helpers of run workers: heartbeats for the runs this process holds, and the
periodic sweep that recovers runs whose worker vanished.

Heartbeats: one daemon thread per process, alive only while the process holds runs, marks all of
them alive with one UPDATE every PARLEY_RUN_HEARTBEAT_SECONDS, also during a long LLM call.

Sweep (no Celery beat needed): every worker process, embedded or `celery -A workers worker`,
starts a daemon thread on `worker_init` (workers/tasks.py) that runs studio.runs.recovery.sweep()
every PARLEY_RUN_SWEEP_SECONDS. Sweeps of several workers may overlap; they are conditional
updates, so that is harmless.

Both threads close their database connection after each round, so they never pin a connection
(or a test database) while idle.
"""

from __future__ import annotations

import logging
import threading
from uuid import UUID

logger = logging.getLogger(__name__)


def _close_connection() -> None:
    from django.db import connection

    connection.close()


class Heartbeats:
    def __init__(self) -> None:
        self._leases: set[UUID] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, lease: UUID) -> None:
        with self._lock:
            self._leases.add(lease)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="parley-run-heartbeat", daemon=True)
                self._thread.start()

    def release(self, lease: UUID) -> None:
        with self._lock:
            self._leases.discard(lease)
            if not self._leases:
                self._wake.set()  # let the thread notice it has nothing left to do

    @property
    def held(self) -> list[UUID]:
        with self._lock:
            return list(self._leases)

    def beat(self) -> int:
        from studio.runs.persistence import heartbeat

        try:
            return heartbeat(self.held)
        except Exception:  # the database may be briefly away; the next beat tries again
            logger.warning("run heartbeat failed", exc_info=True)
            return 0
        finally:
            _close_connection()

    def _loop(self) -> None:
        from studio.runs import conf

        while True:
            self._wake.wait(conf.heartbeat_seconds())
            self._wake.clear()
            with self._lock:
                if not self._leases:
                    self._thread = None
                    return
            self.beat()


heartbeats = Heartbeats()


class Sweeper:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, *, redispatch_queued: bool = False) -> None:
        if self.running:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(redispatch_queued,), name="parley-run-sweep", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _loop(self, redispatch_queued: bool) -> None:
        from studio.runs import conf
        from studio.runs.recovery import sweep

        first = True
        while not self._stop.is_set():
            try:
                sweep(redispatch_queued=redispatch_queued and first)
                first = False
            except Exception:  # keep sweeping: one failed pass (database restart) is not the end
                logger.warning("run sweep failed", exc_info=True)
            finally:
                _close_connection()
            self._stop.wait(conf.sweep_seconds())


sweeper = Sweeper()
