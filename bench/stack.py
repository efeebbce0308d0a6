"""A production-mode Parley on this host, for the run benchmarks: a throwaway PostgreSQL database,
real `celery -A workers worker` processes on their own Redis queue, the fake LLM server in its own
process, and (optionally) `manage.py serve` for websocket clients. Everything it starts is stopped
by PID and the database dropped when the `with` block ends, also on errors and Ctrl-C.

    with Stack(workers=1, concurrency=200, llm_rules=[{"text": "ok", "delay": 0.3}]) as stack:
        ...  # Django is set up on the bench database; stack.worker_pids, stack.ws_url(...)

Needs DATABASE_URL (postgres://, a role that may CREATE DATABASE) and REDIS_URL. The secrets a
deployment requires (SECRET_KEY, FIELD_ENCRYPTION_KEYS, ALLOWED_HOSTS) get throwaway values when
unset.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def env_option(parser: Any) -> None:
    """`--env NAME=VALUE` (repeatable): extra environment for every process a Stack starts."""
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", type=_name_value,
                        help="an extra environment variable for the processes it starts (repeatable)")


def _name_value(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ValueError(item)  # argparse reports it as an invalid --env value
    return name, value


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import platform

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def host_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole host since boot, summed over cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def _database_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(url: str, statement: str) -> None:
    """Run CREATE/DROP DATABASE through the server's maintenance database."""
    import psycopg

    with psycopg.connect(_database_url(url, "postgres"), autocommit=True) as connection:
        connection.execute(statement)


class Stack:
    def __init__(self, *, workers: int = 1, concurrency: int = 8, llm_rules: list[dict] | None = None,
                 serve: bool = False, env: dict[str, str] | None = None) -> None:
        if workers < 1 or concurrency < 1:
            raise ValueError(f"workers and concurrency must be at least 1 (got {workers}, {concurrency})")
        self.workers = workers
        self.concurrency = concurrency
        self.llm_rules = llm_rules or []
        self.serve = serve
        self.extra_env = env or {}  # for every process it starts, e.g. PARLEY_DB_POOL_SIZE=0
        self.queue = f"parley-bench-{uuid.uuid4().hex[:10]}"
        self.database = f"parley_bench_{uuid.uuid4().hex[:10]}"
        self.processes: list[subprocess.Popen] = []
        self.worker_pids: list[int] = []
        self.llm_pid = 0
        self.tmp = Path(tempfile.mkdtemp(prefix="parley-bench-"))
        self.admin_url = os.environ.get("DATABASE_URL", "")
        self.llm_url = ""
        self.port = 0
        self._created_db = False

    # ---- set-up -------------------------------------------------------------------------------------

    def __enter__(self) -> "Stack":
        # SIGTERM (a timeout, a parent giving up) unwinds like Ctrl-C, so everything is stopped and dropped.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _interrupt)
        try:
            self._start()
        except BaseException:
            self.close(keep_logs=True)
            raise
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(keep_logs=exc_type is not None)

    def _env(self) -> dict[str, str]:
        base = os.environ.get("DATABASE_URL", "")
        if not base.startswith(("postgres://", "postgresql://")) or not os.environ.get("REDIS_URL"):
            raise SystemExit("bench: set DATABASE_URL (postgres://...) and REDIS_URL; the run benchmarks use both")
        env = {key: value for key, value in os.environ.items() if not key.startswith("PARLEY_RUN")}
        env.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(30))
        env.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
        env.update(DATABASE_URL=_database_url(base, self.database), PARLEY_RUNS_QUEUE=self.queue,
                   PARLEY_DATA_DIR=str(self.tmp), PARLEY_HTTPS="0", DJANGO_SETTINGS_MODULE="studio.settings",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])))
        return env

    def _start(self) -> None:
        env = self._env()
        _admin(self.admin_url, f'CREATE DATABASE "{self.database}"')
        self._created_db = True
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS",
                                                 "PARLEY_RUNS_QUEUE", "PARLEY_DATA_DIR", "PARLEY_HTTPS",
                                                 "DJANGO_SETTINGS_MODULE")})
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self._start_llm(env)
        env = {**env, **self.extra_env}
        for number in range(self.workers):
            self._spawn([sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool", "threads",
                         "-c", str(self.concurrency), "-Q", self.queue, "-n", f"{self.queue}-{number}@%h",
                         "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
                        env, f"worker-{number}.log")
            self.worker_pids.append(self.processes[-1].pid)
        if self.serve:
            self.port = free_port()
            self._spawn([sys.executable, "manage.py", "serve", "--port", str(self.port), "--log-level", "warning"],
                        env, "serve.log")
        self._wait_ready()

    def _spawn(self, command: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen:
        with open(self.tmp / log_name, "w") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def _start_llm(self, env: dict[str, str]) -> None:
        script = self.tmp / "llm.json"
        script.write_text(json.dumps({"rules": self.llm_rules}))
        port = free_port()
        self._spawn([sys.executable, "-m", "tests.fakellm", "--port", str(port), "--script", str(script)], env,
                    "fakellm.log")
        self.llm_url = f"http://127.0.0.1:{port}/v1"
        self.llm_pid = self.processes[-1].pid

    def _wait_ready(self) -> None:
        import httpx

        from workers.celery import app

        deadline = time.monotonic() + START_TIMEOUT
        waiting_for = {f"{self.queue}-{n}@" for n in range(self.workers)}
        llm_ok = serve_ok = False
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"bench: {process.args[:4]} exited with {process.returncode}; logs in {self.tmp}")
            if not llm_ok:
                try:
                    llm_ok = httpx.get(self.llm_url + "/healthz", timeout=1).status_code == 200
                except httpx.TransportError:
                    pass
            if self.serve and not serve_ok:
                try:
                    serve_ok = httpx.get(f"http://127.0.0.1:{self.port}/accounts/login/", timeout=1).status_code == 200
                except httpx.TransportError:
                    pass
            if waiting_for:
                for reply in app.control.ping(timeout=0.5):
                    waiting_for = {prefix for prefix in waiting_for if not any(n.startswith(prefix) for n in reply)}
            if not waiting_for and llm_ok and (serve_ok or not self.serve):
                return
        raise RuntimeError(f"bench: the stack did not start within {START_TIMEOUT:.0f} s; logs in {self.tmp}")

    # ---- use ----------------------------------------------------------------------------------------

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def session_cookie(self, user: Any) -> str:
        """A session cookie for `user`, made the way a login makes one."""
        from django.conf import settings
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.contrib.sessions.backends.db import SessionStore

        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

    def log(self, name: str) -> str:
        path = self.tmp / name
        return path.read_text()[-3000:] if path.exists() else ""

    # ---- tear-down ----------------------------------------------------------------------------------

    def close(self, keep_logs: bool = False) -> None:
        """Stop every process by PID, drop the queue and the database; the logs stay on failure."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.processes.clear()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django never got set up
            pass
        try:
            self._remove_queue()
        except Exception as error:  # the broker is down: nothing to clean there
            print(f"bench: could not remove queue {self.queue}: {error}", file=sys.stderr)
        if self._created_db:
            _admin(self.admin_url, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self._created_db = False
        if keep_logs:
            print(f"bench: logs kept in {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _remove_queue(self) -> None:
        from kombu import Exchange, Queue

        from workers.celery import app

        with app.connection_for_write() as connection:
            queue = Queue(self.queue, Exchange(self.queue, type="direct"), routing_key=self.queue)
            bound = queue.bind(connection.default_channel)
            bound.declare()
            bound.delete()
