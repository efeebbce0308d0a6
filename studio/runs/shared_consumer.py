"""`/ws/shared/<token>/`: one run, live and read-only, for whoever holds a share link.

The protocol of /ws/runs/ without replies: the client sends `{"type": "resume", "last_seq": N}`
(or `?last_seq=N`), then gets every newer message, the status, and live events as htmx
out-of-band fragments (templates/runs/shared_frames.html: no reply or stop controls). Anything
else a client sends is ignored.

No login is involved: the token is the access. It is checked at connect (unknown, revoked or
expired: close 4404, existence not revealed) and again before every event; once the link stops
working the socket closes with 4403: at once when an owner revokes it (the revocation rings the
link's own group), at its expiry time (a timer), and otherwise at the next event.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string
from django.utils import timezone

from studio.runs import sharing
from studio.runs.models import HumanInputRequest, Message, Run
from studio.runs.services import open_request
from workers.relay import RunMessageEvent, RunStatusEvent, RunTokensEvent, group_for_run

CLOSE_NOT_FOUND = 4404
CLOSE_GONE = sharing.CLOSE_LINK_GONE
REPLAY_BATCH = 200
FRAMES = "runs/shared_frames.html"


def messages_frame(messages: list[Message]) -> str:
    return render_to_string(f"{FRAMES}#messages-frame", {"messages": messages})


def tokens_frame(agent: str, text: str) -> str:
    return render_to_string(f"{FRAMES}#tokens-frame", {"agent": agent, "text": text})


def status_frame(run: Run, question: HumanInputRequest | None) -> str:
    return render_to_string(f"{FRAMES}#status-frame", {"run": run, "question": question})


class SharedRunConsumer(AsyncWebsocketConsumer):
    share_pk: int | None = None
    run_pk: int | None = None
    last_seq = 0
    resumed = False
    gone = False  # closed because the link stopped working: close once, send nothing more

    async def connect(self) -> None:
        self.joined: list[str] = []
        self._expiry: asyncio.Task | None = None
        await self.accept()  # accept first, so the browser sees our close code
        found = await self._find(self.scope["url_route"]["kwargs"]["token"])
        if found is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.share_pk, self.run_pk, run_id, share_id, expires_at = found
        # Join before replaying: anything persisted from now on rings this socket's doorbell.
        for group in (group_for_run(run_id), sharing.group_for_share(share_id)):
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)
        if expires_at is not None:
            self._expiry = asyncio.ensure_future(self._close_at(expires_at))
        query = parse_qs(self.scope.get("query_string", b"").decode())
        if "last_seq" in query:
            await self._resume(query["last_seq"][0])

    async def disconnect(self, code: int) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            data = json.loads(text_data or "")
        except ValueError:
            return
        if isinstance(data, dict) and self.share_pk is not None and data.get("type", "resume") == "resume":
            await self._resume(data.get("last_seq", 0))

    # ---- relay events: each one re-checks the link first ------------------------------------------------

    async def run_message(self, event: RunMessageEvent) -> None:
        if self.resumed and int(event.get("seq", 0)) > self.last_seq and await self._still_works():
            await self._send_new_messages()

    async def run_status(self, event: RunStatusEvent) -> None:
        if self.resumed and await self._still_works():
            await self._send_new_messages()
            await self._send_status()

    async def run_tokens(self, event: RunTokensEvent) -> None:
        if self.resumed and await self._still_works():
            await self.send(text_data=tokens_frame(event["agent"], event["text"]))

    async def share_revoked(self, event: dict) -> None:
        await self._still_works()  # closes the socket

    # ---- helpers -------------------------------------------------------------------------------------

    async def _resume(self, last_seq: Any) -> None:
        try:
            self.last_seq = max(0, int(last_seq))
        except (TypeError, ValueError):
            self.last_seq = 0
        self.resumed = True
        if await self._still_works():
            await self._send_new_messages()
            await self._send_status()

    async def _still_works(self) -> bool:
        if self.gone or self.share_pk is None:
            return False
        if await database_sync_to_async(sharing.still_works)(self.share_pk):
            return True
        self.gone, self.resumed = True, False
        await self.close(code=CLOSE_GONE)
        return False

    async def _close_at(self, expires_at: datetime) -> None:
        await asyncio.sleep(max(0.0, (expires_at - timezone.now()).total_seconds()) + 0.05)
        await self._still_works()

    async def _send_new_messages(self) -> None:
        while True:
            batch = await self._messages_after(self.last_seq)
            if not batch:
                return
            await self.send(text_data=messages_frame(batch))
            self.last_seq = batch[-1].seq
            if len(batch) < REPLAY_BATCH:
                return

    async def _send_status(self) -> None:
        html = await self._status_html()
        if html:
            await self.send(text_data=html)

    @database_sync_to_async
    def _find(self, token: Any) -> tuple[int, int, Any, Any, datetime | None] | None:
        share = sharing.find_share(str(token))
        if share is None:
            return None
        return share.pk, share.run_id, share.run.public_id, share.public_id, share.expires_at

    @database_sync_to_async
    def _messages_after(self, seq: int) -> list[Message]:
        return list(
            Message.objects.filter(run_id=self.run_pk, seq__gt=seq).select_related("author").order_by("seq")[:REPLAY_BATCH]
        )

    @database_sync_to_async
    def _status_html(self) -> str | None:
        run = Run.objects.filter(pk=self.run_pk).first()
        return status_frame(run, open_request(run)) if run is not None else None
