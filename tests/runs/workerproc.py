"""Real `celery -A workers worker` processes for the run tests (production mode).

A sibling of the foundation's fixture in tests/studio/test_relay_production.py, with what run
tests need on top: several workers on one queue, SIGKILL by PID, the run knobs (fast heartbeats
and sweeps) and a broker that redelivers quickly (tests/runs/worker_settings.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0

# Fast enough for tests, and still three heartbeats per stale period (studio/runs/conf.py).
FAST_RUN_KNOBS = {
    "PARLEY_RUN_HEARTBEAT_SECONDS": "0.2",
    "PARLEY_RUN_STALE_SECONDS": "1.0",
    "PARLEY_RUN_SWEEP_SECONDS": "0.25",
}


def database_url(database: dict) -> str:
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise ValueError("worker processes share the test database only on PostgreSQL")
    credentials = quote(database["USER"], safe="")
    if database.get("PASSWORD"):
        credentials += ":" + quote(database["PASSWORD"], safe="")
    return f"postgres://{credentials}@{database['HOST']}:{database.get('PORT') or 5432}/{database['NAME']}"


def worker_env(settings, redis_url: str, queue: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARLEY_RUN")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.runs.worker_settings",
        REDIS_URL=redis_url,
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        SECRET_KEY=settings.SECRET_KEY,
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
        ALLOWED_HOSTS="localhost",
        PARLEY_DATA_DIR=str(data_dir),
        PARLEY_RUNS_QUEUE=queue,
        **FAST_RUN_KNOBS,
    )
    env.update(extra)
    return env


class WorkerProcess:
    def __init__(self, env: dict[str, str], queue: str, log_dir: Path, concurrency: int = 2) -> None:
        self.env = env
        self.queue = queue
        self.name = f"{queue}-{uuid.uuid4().hex[:6]}"
        self.log_path = log_dir / f"{self.name}.log"
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.nodename: str | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> "WorkerProcess":
        command = [
            sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool", "threads",
            "-c", str(self.concurrency), "-Q", self.queue, "-n", f"{self.name}@%h",
            "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        ]  # fmt: skip
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, app) -> "WorkerProcess":
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} exited with {self.process.returncode}:\n{self.log()}")
            for reply in app.control.ping(destination=None, timeout=0.5):
                for nodename in reply:
                    if nodename.startswith(f"{self.name}@"):
                        self.nodename = nodename
                        return self
        raise AssertionError(f"worker {self.name} did not answer a ping within {READY_TIMEOUT:.0f} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acks, no cleanup; what a crashed host looks like."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""


class WorkerPool:
    """Workers started by one test; every one is stopped (by PID) at the end."""

    def __init__(self, app, env: dict[str, str], queue: str, log_dir: Path) -> None:
        self.app = app
        self.env = env
        self.queue = queue
        self.log_dir = log_dir
        self.workers: list[WorkerProcess] = []

    def start(self, count: int = 1, concurrency: int = 2, wait: bool = True) -> list[WorkerProcess]:
        started = [WorkerProcess(self.env, self.queue, self.log_dir, concurrency).start() for _ in range(count)]
        self.workers += started
        if wait:
            for worker in started:
                worker.wait_ready(self.app)
        return started

    def by_pid(self, pid: int) -> WorkerProcess:
        for worker in self.workers:
            if worker.process is not None and worker.pid == pid:
                return worker
        raise AssertionError(f"no worker of this test has pid {pid}")

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    def logs(self) -> str:
        return "\n".join(f"=== {w.name} ===\n{w.log()}" for w in self.workers)


def forget_unacked(app, queue: str) -> int:
    """Drop the broker's record of messages a killed worker took from `queue` and never acknowledged,
    so no later worker on this Redis restores them into a queue that no longer exists."""
    import json

    import redis

    client = redis.Redis.from_url(app.conf.broker_url)
    removed = 0
    try:
        for tag, raw in client.hscan_iter("unacked"):
            try:
                _, _, routing_key = json.loads(raw)
            except (ValueError, TypeError):
                continue
            if routing_key == queue:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
                removed += 1
    finally:
        client.close()
    return removed
