"""ASGI lifespan: what a server process does once at startup and shutdown.

With channels_redis's pub/sub layer, a process whose sockets have joined nothing has no Redis
subscription, and the layer's receive loop then sleeps 100 ms at a time between checks. The first
run event after a quiet spell would wait out that sleep. So each server process subscribes one
channel of its own at startup and keeps it for its lifetime: the receive loop always listens, and
every event reaches its sockets as soon as Redis pushes it. Nothing is ever sent to that channel.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

LISTENING_PREFIX = "parley.listening."
# How long startup waits for the subscription before it lets the server answer anyway.
STARTUP_WAIT = 2.0
RETRY_FIRST, RETRY_MAX = 0.5, 30.0

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def lifespan_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The "lifespan" entry of studio.asgi's protocol router."""
    listening: asyncio.Task | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            listening = start_listening()
            if listening is not None:
                # Usually done in a few ms; Redis being down must not keep the server from starting.
                await asyncio.wait({listening}, timeout=STARTUP_WAIT)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if listening is not None and not listening.done():
                listening.cancel()
            await send({"type": "lifespan.shutdown.complete"})
            return


def start_listening() -> asyncio.Task | None:
    """Subscribe this process's own channel on the pub/sub layer, retrying until Redis takes it;
    None for layers that need no such thing (the in-memory layer of embedded mode)."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    layer = get_channel_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    return asyncio.get_running_loop().create_task(_subscribe(layer), name="parley-listening")


async def _subscribe(layer: Any) -> str:
    delay = RETRY_FIRST
    while True:
        try:
            return await layer.new_channel(prefix=LISTENING_PREFIX)
        except Exception as exc:  # any connection error; the layer reports them in several types
            logger.warning("Could not subscribe to the channel layer (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
