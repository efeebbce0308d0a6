"""The in-process Celery worker of embedded mode.

`manage.py serve` starts one of these next to the ASGI server when REDIS_URL is unset: a real
Celery WorkController (thread pool, in-memory broker) running in a daemon thread, so tasks run
through the same code path as in production, not eagerly.
"""

from __future__ import annotations

import logging
import socket
import threading

from celery import Celery
from celery.app.trace import reset_worker_optimizations, setup_worker_optimizations
from celery.worker import WorkController

logger = logging.getLogger(__name__)


class _ReadyWorkController(WorkController):
    """A WorkController that reports when its consumer is ready to take tasks."""

    def __init__(self, *args, **kwargs) -> None:
        self.ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer) -> None:
        self.ready.set()


class EmbeddedWorker:
    def __init__(self, app: Celery, concurrency: int, hostname: str | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1 (got {concurrency})")
        self.app = app
        self.concurrency = concurrency
        self.hostname = hostname or f"embedded@{socket.gethostname()}"
        self._controller: _ReadyWorkController | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 15.0) -> None:
        """Start the worker thread and wait until it consumes from the broker."""
        if self._thread is not None:
            raise RuntimeError("the embedded worker is already started")
        # What `celery worker` does before starting: among others, tasks then see this worker's
        # node name in `self.request.hostname` (otherwise the bare host name).
        setup_worker_optimizations(self.app, self.hostname)
        self._controller = _ReadyWorkController(
            app=self.app,
            hostname=self.hostname,
            pool="threads",
            concurrency=self.concurrency,
            # One process: no cluster chatter to sync with, nobody to send heartbeats to.
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            ready_callback=None,
        )
        self._thread = threading.Thread(target=self._controller.start, name="parley-embedded-worker", daemon=True)
        self._thread.start()
        if not self._controller.ready.wait(timeout):
            raise RuntimeError(f"the embedded Celery worker did not become ready within {timeout:.0f} s")
        logger.info("embedded worker %s ready (%d threads)", self.hostname, self.concurrency)

    def stop(self, timeout: float = 10.0) -> None:
        """Warm shutdown: let running tasks finish (bounded by `timeout`)."""
        if self._controller is None or self._thread is None:
            return
        self._controller.stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("embedded worker still busy after %.0f s; leaving it to exit with the process", timeout)
        self._controller = None
        self._thread = None
        reset_worker_optimizations(self.app)
