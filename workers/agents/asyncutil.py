"""Small helpers for running the engine's sync and async paths from one implementation."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from typing import Any, Coroutine


def drive(coro: Coroutine) -> Any:
    """Run a coroutine that never really suspends, synchronously, in the current context.

    The conversation loop is written once as a coroutine; the sync path feeds it only sync
    callables, so it completes on the first `send`. A real suspension means async code leaked
    into a sync chat, which is a bug worth a loud error.
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("an awaitable suspended inside a synchronous chat; use the a_* (async) API instead")


def run_coroutine_in_thread(coro: Coroutine) -> Any:
    """Run `coro` to completion on a fresh event loop in a separate thread (context preserved).

    Used when sync code must call an async function (tool functions, async input providers):
    a separate thread works whether or not the caller already runs inside an event loop.
    """
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, coro)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="parley-async-call", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def resolve(value: Any) -> Any:
    """A sync caller's view of a value that may be awaitable."""
    if inspect.isawaitable(value):
        async def _await() -> Any:
            return await value

        return run_coroutine_in_thread(_await())
    return value
