"""Real processes for tests: Celery worker processes (production mode) and the studio served by
`manage.py serve` (embedded mode). Each is started with its own log file and stopped by its PID.

Workers:

    with WorkerPool(app, worker_env(settings, redis_url, queue, tmp_path), queue, tmp_path) as workers:
        (worker,) = workers.start(1)   # waits until it answers a ping
        ...                            # worker.kill() is a SIGKILL, as when a host crashes

Leaving the `with` stops every worker it started and removes the queue from the broker.

The served studio:

    studio = ServedStudio(tmp_path)
    studio.manage("migrate", "--noinput")
    with studio.serving():
        httpx.get(studio.url + "/accounts/login/")

The `served` fixture is such a studio with alice and her crew "Ask me" (`served.crews["ask"]`),
whose user proxy asks a person at every turn.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

# --- Celery worker processes ---------------------------------------------------------------------

# Parley's settings plus a broker that redelivers a SIGKILLed worker's task within seconds.
WORKER_SETTINGS = "tests.plugins.worker_settings"

# Fast enough for tests, and still three heartbeats per stale period (studio/runs/conf.py).
FAST_RUN_KNOBS = {
    "PARLEY_RUN_HEARTBEAT_SECONDS": "0.2",
    "PARLEY_RUN_STALE_SECONDS": "1.0",
    "PARLEY_RUN_SWEEP_SECONDS": "0.25",
}


def database_url(database: dict) -> str | None:
    """The test database as a URL a worker process can open; None when it cannot share it (SQLite)."""
    if database["ENGINE"] != "django.db.backends.postgresql":
        return None
    credentials = quote(database["USER"], safe="")
    if database.get("PASSWORD"):
        credentials += ":" + quote(database["PASSWORD"], safe="")
    return f"postgres://{credentials}@{database['HOST']}:{database.get('PORT') or 5432}/{database['NAME']}"


def worker_env(settings, redis_url: str, queue: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """A worker's environment: this test's Redis, database and keys, `queue` for its run tasks,
    fast run knobs, then `extra`.

    Without PostgreSQL the worker keeps a SQLite file of its own in `data_dir`: enough for tasks
    that never read the test's rows (worker_check), while run tests ask for `postgres_url`.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARLEY_RUN")}
    env.pop("DATABASE_URL", None)
    shared_database = database_url(settings.DATABASES["default"])
    if shared_database:
        env["DATABASE_URL"] = shared_database
    env.update(
        DJANGO_SETTINGS_MODULE=WORKER_SETTINGS,
        REDIS_URL=redis_url,
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
    """One `celery -A workers worker` process (thread pool) consuming only `queue`."""

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
        """Until the worker answers a ping; fails with its log if it exits or stays silent."""
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
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""


class WorkerPool:
    """Workers on one queue. As a context manager, leaving it stops every worker (by PID), drops
    what killed workers left unacknowledged and removes the queue, so the shared Redis is as before."""

    def __init__(self, app, env: dict[str, str], queue: str, log_dir: Path) -> None:
        self.app = app
        self.env = env
        self.queue = queue
        self.log_dir = log_dir
        self.workers: list[WorkerProcess] = []

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop_all()
        forget_unacked(self.app, self.queue)
        remove_queue(self.app, self.queue)

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


def remove_queue(app, name: str) -> None:
    """Drop a test queue and its binding from the broker. Celery made both with the queue's name;
    declaring the queue first tells kombu which binding to delete."""
    from kombu import Exchange, Queue

    with app.connection_for_write() as connection:
        queue = Queue(name, Exchange(name, type="direct"), routing_key=name).bind(connection.default_channel)
        queue.declare()
        queue.delete()


# --- the studio served by `manage.py serve` ------------------------------------------------------

# Variables that would turn the served studio into a deployment or point it at this test's services.
PARLEY_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "FIELD_ENCRYPTION_KEYS",
    "PARLEY_HTTPS",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def csrf_field(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


class ServedStudio:
    """The studio in embedded mode (SQLite in `data_dir`, the in-process worker, the in-memory
    layer), as `make run` starts it, on a free port of 127.0.0.1."""

    def __init__(self, data_dir: Path, concurrency: int = 2) -> None:
        self.env = {key: value for key, value in os.environ.items()
                    if key not in PARLEY_VARIABLES and not key.startswith("PARLEY_RUN")}
        self.env.update(PARLEY_DATA_DIR=str(data_dir), PARLEY_WORKER_CONCURRENCY=str(concurrency))
        self.log_path = data_dir / "serve.log"
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.crews: dict[str, str] = {}

    @property
    def url(self) -> str:
        assert self.port is not None, "the studio is not served yet"
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, **extra_env: str) -> str:
        """Run a manage.py command on the studio's data to the end; its output."""
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env={**self.env, **extra_env},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def add_crews(self, setup: str, **extra_env: str) -> dict[str, str]:
        """Run `setup` in `manage.py shell`; its last line is a JSON object of crew public ids by
        key, which are added to `crews`."""
        made = json.loads(self.manage("shell", "-c", setup, **extra_env).strip().splitlines()[-1])
        self.crews.update(made)
        return made

    def start(self) -> "ServedStudio":
        self.port = free_port()
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--port", str(self.port), "--log-level", "warning"],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.wait_until_serving()
        return self

    def wait_until_serving(self) -> None:
        import httpx

        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/accounts/login/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"serve did not answer within {READY_TIMEOUT:.0f} s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; SIGKILL if it does not end in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    @contextmanager
    def serving(self) -> Iterator["ServedStudio"]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text() if self.log_path.exists() else ""


# Run in `manage.py shell` of the served studio: alice, and a crew made by the studio's services.
ALICE_ASKS = """
import json, os
from studio.accounts.services import sign_up
from tests.runs.support import human_crew
user = sign_up(username="alice", email="alice@example.test", password=os.environ["SETUP_PASSWORD"])
print(json.dumps({"ask": str(human_crew(user.personal_workspace, user).public_id)}))
"""


@pytest.fixture
def served(tmp_path) -> Iterator[ServedStudio]:
    """The embedded studio with alice (tests.factories.PASSWORD) and her crew "Ask me"
    (`served.crews["ask"]`), whose user proxy asks a person at every turn."""
    from tests.factories import PASSWORD

    studio = ServedStudio(tmp_path)
    studio.manage("migrate", "--noinput", "-v", "0")
    studio.add_crews(ALICE_ASKS, SETUP_PASSWORD=PASSWORD)
    with studio.serving():
        yield studio
