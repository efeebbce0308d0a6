"""What every live view of one run shares: the member's socket (studio/runs/consumers.py) and the
share link's (studio/runs/shared_consumer.py) differ only in who gets in, what they may send, and
which templates draw the fragments.

Protocol. After connecting, the client sends `{"type": "resume", "last_seq": N}` (N = the newest
message it holds, 0 for none; `?last_seq=N` on the URL does the same). The consumer then sends
every newer Message from the database, the status, and from then on live events, never a seq
twice. Relay events are doorbells (workers/relay.py): the database is the record.

Access is decided again before anything is sent; once it is gone the socket closes with 4403 and
sends nothing more. Each saved-message or status event costs one `database_sync_to_async` call:
the re-check, the new rows and the status are read in the same thread hop, because every hop
waits for the consumers' one database thread. Token batches are sent by a flush task with a check
of their own; batches that arrive while it runs share its next check, so a doorbell never queues
behind one check per batch.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from studio.runs.models import Message, Run
from workers.relay import RunMessageEvent, RunStatusEvent, RunTokensEvent

CLOSE_FORBIDDEN = 4403  # access ended while the socket was open
CLOSE_NOT_FOUND = 4404  # refused at connect; existence is not revealed
REPLAY_BATCH = 200


def _merged(batches: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive batches of one agent as one piece of text."""
    merged: list[tuple[str, str]] = []
    for agent, text in batches:
        if merged and merged[-1][0] == agent:
            merged[-1] = (agent, merged[-1][1] + text)
        else:
            merged.append((agent, text))
    return merged


@dataclass(frozen=True)
class Admission:
    """What a subclass's access check at connect found: the run, the groups to join, and the
    moment access is known to end (a link's expiry), if any."""

    run_pk: int
    groups: tuple[str, ...]
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Reading:
    """One thread hop's answer: whether access still holds, then (if so) the rows after the
    client's seq and the status fragment, when asked for."""

    allowed: bool
    messages: list[Message]
    status: str | None = None


class RunStreamConsumer(AsyncWebsocketConsumer):
    """Connect, join, replay from the client's seq, relay events, re-check access each time.

    Subclasses provide `admit` (async, at connect), `still_allowed` (sync, inside the hop) and the
    three fragment renderers; `command` handles client messages other than resume.
    """

    run_pk: int | None = None
    joined: tuple[str, ...] = ()
    last_seq = 0
    resumed = False
    gone = False  # access ended: closed once, nothing more is sent
    _access_timer: asyncio.Task | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tokens: list[tuple[str, str]] = []  # (agent, text) batches waiting for a check
        self._token_flush: asyncio.Future | None = None

    # ---- what subclasses decide ------------------------------------------------------------------

    async def admit(self) -> Admission | int:
        """The run this socket may watch, or the close code to refuse it with."""
        raise NotImplementedError

    def still_allowed(self) -> bool:
        """Runs in the database thread before every event; may refresh what the viewer may do."""
        raise NotImplementedError

    def messages_html(self, messages: list[Message]) -> str:
        """Runs on the event loop: no queries (authors come loaded)."""
        raise NotImplementedError

    def tokens_html(self, agent: str, text: str) -> str:
        raise NotImplementedError

    def status_html(self, run: Run) -> str:
        """Runs in the database thread, right after `still_allowed`: may query."""
        raise NotImplementedError

    async def command(self, kind: Any, data: dict) -> None:
        """A client message other than resume. Ignored unless a subclass says otherwise."""

    # ---- the websocket ---------------------------------------------------------------------------

    async def dispatch(self, message: dict) -> None:
        # Channels runs close_old_connections on the one shared database thread before every
        # handler, so each event (each token batch) would first queue behind every other socket's
        # reads. These consumers touch the database only through database_sync_to_async, which
        # closes stale connections itself, so the handler is called directly.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        await self.accept()  # accept first, so the browser sees our close code
        admission = await self.admit()
        if not isinstance(admission, Admission):
            await self.close(code=admission)
            return
        self.run_pk = admission.run_pk
        # Join before replaying: anything persisted from now on rings this socket's doorbell.
        for group in admission.groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined += (group,)
        if admission.ends_at is not None:
            self._access_timer = asyncio.ensure_future(self._recheck_at(admission.ends_at))
        query = parse_qs(self.scope.get("query_string", b"").decode())
        if "last_seq" in query:
            await self.resume(query["last_seq"][0])

    async def disconnect(self, code: int) -> None:
        if self._access_timer is not None:
            self._access_timer.cancel()
            self._access_timer = None
        if self._token_flush is not None:
            self._token_flush.cancel()
        self._tokens.clear()
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = ()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            data = json.loads(text_data or "")
        except ValueError:
            return
        if not isinstance(data, dict) or self.run_pk is None or self.gone:
            return
        kind = data.get("type", "resume" if "last_seq" in data else None)
        if kind == "resume":
            await self.resume(data.get("last_seq", 0))
        else:
            await self.command(kind, data)

    # ---- relay events ----------------------------------------------------------------------------

    async def run_message(self, event: RunMessageEvent) -> None:
        if self.resumed and not self.gone and int(event.get("seq", 0)) > self.last_seq:
            await self._settle_tokens(superseded=True)
            await self.catch_up(with_status=False)

    async def run_status(self, event: RunStatusEvent) -> None:
        await self._settle_tokens(superseded=False)
        if self.resumed and not self.gone:
            await self.catch_up(with_status=True)

    async def run_tokens(self, event: RunTokensEvent) -> None:
        """Token batches go out from a flush task, so a doorbell behind them never waits for one
        access check per batch. While a check is under way, batches gather and share the next
        one; nothing is sent without a check."""
        if not self.resumed or self.gone:
            return
        self._tokens.append((event["agent"], event["text"]))
        if self._token_flush is None or self._token_flush.done():
            self._token_flush = asyncio.ensure_future(self._flush_tokens())

    async def _flush_tokens(self) -> None:
        while self._tokens and not self.gone:
            if not await self.recheck():  # one indexed query for every batch gathered so far
                self._tokens.clear()
                return
            gathered, self._tokens = self._tokens, []
            if gathered:  # none when a saved message superseded them during the check
                await self.send(text_data="".join(self.tokens_html(agent, text) for agent, text in _merged(gathered)))

    async def _settle_tokens(self, *, superseded: bool) -> None:
        """Before a frame that must follow the streamed text: let a flush already under way finish.
        With new rows (`superseded`), batches still waiting are dropped: the rows hold those
        replies in full, and streamed text after them would linger on the page."""
        if superseded:
            self._tokens.clear()
        if self._token_flush is not None and not self._token_flush.done():
            await self._token_flush

    # ---- the shared steps ------------------------------------------------------------------------

    async def resume(self, last_seq: Any) -> None:
        try:
            self.last_seq = max(0, int(last_seq))
        except (TypeError, ValueError):
            self.last_seq = 0
        self.resumed = True
        await self.catch_up(with_status=True)

    async def catch_up(self, *, with_status: bool) -> None:
        """Re-check access, send every row after `last_seq`, then (if asked) the status."""
        check = True
        while True:
            reading = await self._read(self.last_seq, with_status, check)
            if not reading.allowed:
                await self._lose_access()
                return
            check = False  # the rest of one replay needs no second check
            if reading.messages:
                await self.send(text_data=self.messages_html(reading.messages))
                self.last_seq = reading.messages[-1].seq
            if len(reading.messages) < REPLAY_BATCH:
                if reading.status:
                    await self.send(text_data=reading.status)
                return

    async def recheck(self) -> bool:
        """Access alone, in one hop; closes the socket once it is gone."""
        if self.gone or self.run_pk is None:
            return False
        if await database_sync_to_async(self.still_allowed)():
            return True
        await self._lose_access()
        return False

    async def _lose_access(self) -> None:
        if not self.gone:
            self.gone, self.resumed = True, False
            await self.close(code=CLOSE_FORBIDDEN)

    async def _recheck_at(self, moment: datetime) -> None:
        await asyncio.sleep(max(0.0, (moment - timezone.now()).total_seconds()) + 0.05)
        await self.recheck()

    @database_sync_to_async
    def _read(self, after_seq: int, with_status: bool, check: bool) -> Reading:
        if check and not self.still_allowed():
            return Reading(allowed=False, messages=[])
        messages = list(
            Message.objects.filter(run_id=self.run_pk, seq__gt=after_seq)
            .select_related("author").order_by("seq")[:REPLAY_BATCH]
        )
        status = None
        # The status goes out after the last rows; a full batch means more rows come first.
        if with_status and len(messages) < REPLAY_BATCH:
            run = Run.objects.filter(pk=self.run_pk).first()
            status = self.status_html(run) if run is not None else None
        return Reading(allowed=True, messages=messages, status=status)
