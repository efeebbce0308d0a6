"""Websocket test helpers: talk to Parley's ASGI stack as a given user.

    def test_something(ws_client, alice):
        async def scenario():
            async with ws_client.connect("/ws/system/", user=alice) as socket:
                assert socket.accepted
                html = await socket.receive_from(timeout=5)
        async_to_sync(scenario)()

`connect` opens a `UserWebsocket` on `studio.asgi.application` (the full stack: origin check,
session auth, URL routing) with the session cookie of `Client.force_login(user)` and a matching
Origin header, and disconnects it on exit, inside the test's own event loop. Consumers read the
database from other threads, so the fixture pulls in `transactional_db`.

The fixture runs consumers on Channels' in-memory layer, as embedded mode does, whatever the
environment configures: it is deterministic and fast, and the test's event loop is registered as
the relay's server loop, so `relay.publish` from worker threads reaches the sockets exactly as
under `manage.py serve`. Tests about the Redis path add the `redis_channel_layer` fixture, which
puts the sockets on channels_redis configured exactly as a deployment configures it. The in-memory
layer is flushed afterwards so groups never leak between tests.

`UserWebsocket` mirrors the API of `channels.testing.WebsocketCommunicator` (connect, send_to,
receive_from, receive_nothing, disconnect) on asgiref's ApplicationCommunicator: importing
`channels.testing` requires daphne, which Parley does not install.
"""

from __future__ import annotations

import asyncio
import copy
from contextlib import asynccontextmanager
from typing import AsyncIterator
from urllib.parse import unquote, urlsplit

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator


class UserWebsocket(ApplicationCommunicator):
    """Drives one websocket connection into an ASGI application, in the caller's event loop."""

    def __init__(self, application, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        if not isinstance(path, str):
            raise TypeError(f"path must be a str (got {type(path).__name__})")
        parts = urlsplit(path)
        scope = {
            "type": "websocket",
            "path": unquote(parts.path),
            "query_string": parts.query.encode(),
            "headers": headers or [],
            "subprotocols": [],
        }
        super().__init__(application, scope)
        self.accepted = False
        self.close_code: int | None = None

    async def connect(self, timeout: float = 5) -> tuple[bool, object]:
        """(True, subprotocol) when accepted, (False, close code) when refused."""
        await self.send_input({"type": "websocket.connect"})
        reply = await self.receive_output(timeout)
        if reply["type"] == "websocket.close":
            self.close_code = reply.get("code", 1000)
            return False, self.close_code
        if reply["type"] != "websocket.accept":
            raise AssertionError(f"expected websocket.accept or websocket.close, got {reply!r}")
        self.accepted = True
        return True, reply.get("subprotocol")

    async def send_to(self, text_data: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def receive_from(self, timeout: float = 5) -> str | bytes:
        """The next frame the application sends; fails if it closes the socket instead."""
        reply = await self.receive_output(timeout)
        if reply["type"] == "websocket.close":
            self.close_code = reply.get("code", 1000)
            raise AssertionError(f"the application closed the socket (code {self.close_code}) instead of sending")
        if reply["type"] != "websocket.send":
            raise AssertionError(f"expected websocket.send, got {reply!r}")
        return reply["text"] if reply.get("text") is not None else reply["bytes"]

    async def receive_close(self, timeout: float = 5) -> int:
        """Wait for the application to close the socket; returns the close code."""
        reply = await self.receive_output(timeout)
        if reply["type"] != "websocket.close":
            raise AssertionError(f"expected websocket.close, got {reply!r}")
        self.close_code = reply.get("code", 1000)
        return self.close_code

    async def disconnect(self, code: int = 1000, timeout: float = 8) -> None:
        """What a server sends when the client goes away; waits for the application to finish and
        raises whatever it ended with.

        No error is excused, redis' TimeoutError included: on the Redis layer that error means a
        consumer's socket died while quiet (the layer's 5 s blocking pop outlasting redis-py's
        default 5 s read timeout), the bug studio/settings.py's `socket_timeout` fixes.
        """
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


class WebsocketClient:
    def __init__(self, host: str = "testserver", origin: str = "http://testserver") -> None:
        self.host = host
        self.origin = origin

    def session_cookie(self, user) -> str:
        """A `name=value` session cookie for `user` (sync: call it outside the event loop or via sync_to_async)."""
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    def communicator(self, path: str, user=None, origin: str | None = None) -> UserWebsocket:
        from studio.asgi import application

        headers = [(b"host", self.host.encode()), (b"origin", (origin or self.origin).encode())]
        if user is not None:
            headers.append((b"cookie", self.session_cookie(user).encode()))
        return UserWebsocket(application, path, headers=headers)

    @asynccontextmanager
    async def connect(
        self, path: str, user=None, origin: str | None = None, timeout: float = 5
    ) -> AsyncIterator[UserWebsocket]:
        from workers import relay

        # Like `manage.py serve`: this loop is where in-memory layer events get delivered.
        relay.register_server_loop(asyncio.get_running_loop())
        socket = await sync_to_async(self.communicator)(path, user, origin)
        await socket.connect(timeout=timeout)
        try:
            yield socket
        finally:
            await socket.disconnect(timeout=timeout)


@pytest.fixture
def ws_client(transactional_db, settings) -> WebsocketClient:
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    from workers import relay

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield WebsocketClient()

    relay.unregister_server_loop()
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.flush)()


@pytest.fixture
def redis_channel_layer(ws_client, settings, redis_url) -> None:
    """`ws_client`'s sockets on the Redis layer, with the deployment's own configuration from
    studio/settings.py (its connection options included), not a test-made one."""
    from studio import settings as deployment

    layers = deployment.CHANNEL_LAYERS
    assert layers["default"]["BACKEND"].startswith("channels_redis."), (
        "REDIS_URL is set, so studio/settings.py should configure the Redis layer"
    )
    settings.CHANNEL_LAYERS = copy.deepcopy(layers)
