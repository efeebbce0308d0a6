"""The System page's websocket: relays the user's own events as rendered fragments."""

from __future__ import annotations

from datetime import datetime, timezone
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string

from workers.relay import WorkerCheckEvent, group_for_user

# Application close codes (4000-4999): 4401 mirrors HTTP 401.
CLOSE_UNAUTHENTICATED = 4401


class SystemConsumer(AsyncWebsocketConsumer):
    group_name: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first so the browser sees our close code, not a bare handshake failure.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # Only the user's own group: one user never hears another's events.
        self.group_name = group_for_user(user.public_id)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group_name is not None:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)
            self.group_name = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page sends nothing we act on; actions go through POST views."""

    async def worker_check(self, event: WorkerCheckEvent) -> None:
        if not await self._still_allowed():
            return
        requested = datetime.fromtimestamp(event["requested_at"], tz=timezone.utc)
        # Same partial the page renders; CPU-only, so no thread hop needed.
        html = render_to_string("system/status.html#worker-answer", {"answer": {**event, "requested": requested}})
        await self.send(text_data=html)

    async def _still_allowed(self) -> bool:
        """Re-check on every event: a deactivated or deleted user stops receiving at once."""
        user = self.scope["user"]
        active = await database_sync_to_async(
            get_user_model().objects.filter(pk=user.pk, is_active=True).exists
        )()
        if not active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        return active
