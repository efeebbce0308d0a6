"""`manage.py serve`: run Parley with uvicorn; in embedded mode also the Celery worker thread.

Embedded mode (REDIS_URL unset) is one process: uvicorn serves studio.asgi:application, a real
Celery worker consumes the in-memory broker in a thread, and the relay delivers events on the
server's event loop (registered at startup). In production mode the command only serves; the
workers are separate `celery -A workers worker` processes.
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

if TYPE_CHECKING:
    from workers.embedded import EmbeddedWorker


class Command(BaseCommand):
    help = "Serve Parley (and, in embedded mode, run its worker in the same process)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000).")
        parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])

    def handle(self, *args: Any, host: str, port: int, log_level: str, **options: Any) -> None:
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535 (got {port})")
        self.check_migrations()
        base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        hint = self._first_login_hint(base_url)

        worker = self._start_worker() if settings.PARLEY_EMBEDDED else None
        # uvicorn handles SIGTERM/SIGINT itself, then re-raises them once it has shut down; turning
        # the re-raised SIGTERM into KeyboardInterrupt lets the worker stop below run.
        previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
        try:
            asyncio.run(self._serve(host, port, log_level, base_url, hint))
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous_sigterm)
            if worker is not None:
                worker.stop()
        self.stdout.write("Parley stopped.")

    def _first_login_hint(self, base_url: str) -> str:
        from django.contrib.auth import get_user_model

        first = get_user_model().objects.filter(is_active=True).order_by("date_joined", "id").first()
        if first is None:
            return f"No account yet: open {base_url}/accounts/signup/ to create the first one."
        return f"Log in as {first.get_username()} (or any account) at {base_url}/accounts/login/"

    def _start_worker(self) -> "EmbeddedWorker":
        from workers.celery import app
        from workers.embedded import EmbeddedWorker

        worker = EmbeddedWorker(app, concurrency=settings.PARLEY_WORKER_CONCURRENCY)
        worker.start()
        return worker

    async def _serve(self, host: str, port: int, log_level: str, base_url: str, hint: str) -> None:
        import uvicorn

        from workers import relay

        loop = asyncio.get_running_loop()
        relay.register_server_loop(loop)
        try:
            config = uvicorn.Config("studio.asgi:application", host=host, port=port, lifespan="on", log_level=log_level)
            server = uvicorn.Server(config)
            self.stdout.write(f"Parley ({settings.PARLEY_MODE} mode) at {base_url}/")
            self.stdout.write(hint)
            self.stdout.flush()
            await server.serve()
        finally:
            relay.unregister_server_loop(loop)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
