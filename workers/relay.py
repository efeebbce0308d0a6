"""The relay: publish an event to a channel-layer group, from any thread or event loop.

Production uses channels_redis, reachable from any thread. Worker threads have no event loop,
and `async_to_sync` would make a new loop (and so a new Redis connection) for every call, which
costs milliseconds per token batch; so sync callers hand their sends to one long-lived relay loop
per process (a daemon thread), whose connection pool stays open. Embedded mode uses Channels'
in-memory layer, whose queues belong to the ASGI server's event loop and do not wake consumers
when written from another thread; so the embedded server registers its loop here and publish()
hops onto it with run_coroutine_threadsafe.

An event's `type` names the consumer handler: "worker.check" -> `worker_check`.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import re
import threading
from typing import Literal, TypedDict, Union
from uuid import UUID

from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

# How long a worker thread waits for the server loop to take an embedded publish.
EMBEDDED_PUBLISH_TIMEOUT = 5.0
# How long a sync caller waits for the relay loop to finish a channels_redis send.
PUBLISH_TIMEOUT = 5.0
# Sends a caller may leave in flight without waiting (wait=False); past this, it waits after all,
# so a slow or absent Redis slows the senders instead of growing memory.
MAX_IN_FLIGHT = 500
# At exit (a finished `run_crew`, a worker shutting down) sends still in flight get this long.
DRAIN_TIMEOUT = 3.0

_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class WorkerCheckEvent(TypedDict):
    type: Literal["worker.check"]
    hostname: str
    latency_ms: float
    requested_at: float


class RunMessageEvent(TypedDict):
    """The run's transcript now reaches `seq`; viewers read what they lack from the database."""

    type: Literal["run.message"]
    run: str
    seq: int


class RunTokensEvent(TypedDict):
    """Streamed text of a reply in progress (batched, never persisted)."""

    type: Literal["run.tokens"]
    run: str
    agent: str
    text: str


class RunStatusEvent(TypedDict):
    """The run's status changed (running, awaiting_input, completed...); `seq` as in RunMessageEvent."""

    type: Literal["run.status"]
    run: str
    status: str
    seq: int


RelayEvent = Union[WorkerCheckEvent, RunMessageEvent, RunTokensEvent, RunStatusEvent]


def group_for_user(user_public_id: UUID | str) -> str:
    """The group a user's own sockets join (the system page, notifications)."""
    return f"user.{UUID(str(user_public_id)).hex}"


def group_for_run(run_public_id: UUID | str) -> str:
    """The group every viewer of one run joins."""
    return f"run.{UUID(str(run_public_id)).hex}"


_server_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
_pending: set[asyncio.Future | concurrent.futures.Future] = set()  # keeps scheduled sends alive until done


def register_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by the embedded server on its event loop at startup."""
    global _server_loop
    with _loop_lock:
        _server_loop = loop


def unregister_server_loop(loop: asyncio.AbstractEventLoop | None = None) -> None:
    global _server_loop
    with _loop_lock:
        if loop is None or _server_loop is loop:
            _server_loop = None


def server_loop() -> asyncio.AbstractEventLoop | None:
    return _server_loop


def _forget(pending: asyncio.Future | concurrent.futures.Future) -> None:
    """Done-callback of a scheduled send: drop our reference, and log a failure nobody awaits."""
    _pending.discard(pending)
    if pending.cancelled():
        return
    error = pending.exception()
    if error is not None:
        # One line, no traceback: with Redis away this repeats for every token batch.
        logger.warning("relay: a send nobody waited for failed: %s: %s", error.__class__.__name__, error)


Sending = Union[asyncio.Future, concurrent.futures.Future]


def publish(group: str, event: RelayEvent, *, wait: bool = True) -> Sending | None:
    """Send `event` to every consumer in `group`.

    Raises ValueError for a malformed event, RuntimeError when the in-memory layer is used with
    no server loop to deliver on, and the layer's own errors (e.g. Redis down) unchanged. With
    `wait=False` a thread without an event loop only hands the send over: the layer's errors are
    logged, not raised (for events whose loss costs nothing, like token batches). A send that
    was handed over is returned, so a caller can tell when it is done; None once it is.
    """
    if not isinstance(event, dict) or not _TYPE_PATTERN.match(str(event.get("type", ""))):
        raise ValueError(f"event must be a dict whose 'type' looks like 'area.name' (got {event!r})")
    if not isinstance(group, str) or not group:
        raise ValueError(f"group must be a non-empty string (got {group!r})")
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured; the relay has nowhere to publish")
    message = dict(event)

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    # Only the in-memory layer is tied to one loop; Redis is reachable from anywhere.
    loop = _server_loop if isinstance(layer, InMemoryChannelLayer) else None
    if loop is not None and loop.is_closed():
        loop = None

    if running is not None:
        # Already on an event loop: never block it waiting for the send (on the server loop
        # that would deadlock the in-memory layer). Schedule on the server loop if there is
        # one, else on this loop.
        if loop is None or loop is running:
            pending: asyncio.Future | concurrent.futures.Future = running.create_task(layer.group_send(group, message))
        else:
            pending = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
        _pending.add(pending)
        pending.add_done_callback(_forget)
        return pending

    if loop is None and isinstance(layer, InMemoryChannelLayer):
        raise RuntimeError(
            "the in-memory channel layer only delivers on the embedded server's event loop, and "
            "none is registered (run `manage.py serve`, or set REDIS_URL for separate workers)"
        )
    timeout = EMBEDDED_PUBLISH_TIMEOUT if loop is not None else PUBLISH_TIMEOUT
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop or _relay_loop())
    if not wait and len(_pending) < MAX_IN_FLIGHT:
        # Waiting would hold the caller (a worker thread mid-stream) for a Redis round trip.
        _pending.add(future)
        future.add_done_callback(_forget)
        return future
    try:
        future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise
    return None


def drain(timeout: float = DRAIN_TIMEOUT) -> bool:
    """Wait for the sends handed over with wait=False; True when none is left in flight."""
    handed = [f for f in list(_pending) if isinstance(f, concurrent.futures.Future)]
    if not handed:
        return True
    _done, left = concurrent.futures.wait(handed, timeout=timeout)
    return not left


# Runs before daemon threads stop, so the relay loop can still finish the last doorbells.
atexit.register(drain)


class _RelayLoop:
    """One event loop per process, in a daemon thread, for publishes from threads without a loop.

    channels_redis keeps its connection pool per event loop, so every publish through this loop
    reuses the same connections. A forked child (a prefork pool) makes its own loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def get(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid() and not loop.is_closed():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(target=self._run, args=(loop, ready), name="parley-relay", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()


_relay = _RelayLoop()


def _relay_loop() -> asyncio.AbstractEventLoop:
    return _relay.get()
