"""`/ws/runs/<uuid>/`: one run, live, for one viewer.

Protocol. After connecting, the client sends `{"type": "resume", "last_seq": N}` (N = the newest
message it holds, 0 for none; `?last_seq=N` on the URL does the same). The consumer then sends
every newer Message from the database, the status, and from then on live events, never a seq
twice. It sends HTML fragments (studio/runs/rendering.py) for htmx's ws extension. Clients may
answer a question over the socket: `{"type": "reply", "request": uuid, "action": ..., "answer": ...,
"choice": ...}` (the same rules as the POST view).

Access: the session's user must be a member of the run's workspace before the consumer joins the
run's group (else close 4404: existence is not revealed); membership is checked again before
every event (close 4403 once it is gone). Unauthenticated: 4401.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from studio.accounts.models import Role
from studio.runs import rendering
from studio.runs.access import get_request_for_user, get_run_for_user, role_in
from studio.runs.models import Message, Run
from studio.runs.services import open_request, reply_to_request
from workers.relay import RunMessageEvent, RunStatusEvent, RunTokensEvent, group_for_run

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
REPLAY_BATCH = 200


class RunConsumer(AsyncWebsocketConsumer):
    group_name: str | None = None
    run_pk: int | None = None
    workspace_id: int | None = None
    can_reply = False
    last_seq = 0
    resumed = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()  # accept first, so the browser sees our close code
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        found = await self._find_run(user, self.scope["url_route"]["kwargs"]["run_id"])
        if found is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.run_pk, self.workspace_id, self.can_reply, public_id = found
        # Join before replaying: anything persisted from now on rings the doorbell of this socket.
        self.group_name = group_for_run(public_id)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        query = parse_qs(self.scope.get("query_string", b"").decode())
        if "last_seq" in query:
            await self._resume(query["last_seq"][0])

    async def disconnect(self, code: int) -> None:
        if self.group_name is not None:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)
            self.group_name = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            data = json.loads(text_data or "")
        except ValueError:
            return
        if not isinstance(data, dict) or self.run_pk is None:
            return
        kind = data.get("type", "resume" if "last_seq" in data else None)
        if kind == "resume":
            await self._resume(data.get("last_seq", 0))
        elif kind == "reply":
            await self._reply(data)

    # ---- relay events ----------------------------------------------------------------------------

    async def run_message(self, event: RunMessageEvent) -> None:
        if not self.resumed or int(event.get("seq", 0)) <= self.last_seq:
            return
        if await self._still_allowed():
            await self._send_new_messages()

    async def run_status(self, event: RunStatusEvent) -> None:
        if self.resumed and await self._still_allowed():
            await self._send_new_messages()
            await self._send_status()

    async def run_tokens(self, event: RunTokensEvent) -> None:
        if not self.resumed:
            return
        if not await self._still_allowed():  # every event, token batches too: one indexed query
            return
        await self.send(text_data=rendering.tokens_frame(event["agent"], event["text"]))

    # ---- helpers -------------------------------------------------------------------------------------

    async def _resume(self, last_seq: Any) -> None:
        try:
            self.last_seq = max(0, int(last_seq))
        except (TypeError, ValueError):
            self.last_seq = 0
        self.resumed = True
        if await self._still_allowed():
            await self._send_new_messages()
            await self._send_status()

    async def _send_new_messages(self) -> None:
        while True:
            batch = await self._messages_after(self.last_seq)
            if not batch:
                return
            await self.send(text_data=rendering.messages_frame(batch))
            self.last_seq = batch[-1].seq
            if len(batch) < REPLAY_BATCH:
                return

    async def _send_status(self) -> None:
        html = await self._status_html()
        if html:
            await self.send(text_data=html)

    async def _still_allowed(self) -> bool:
        role = await database_sync_to_async(role_in)(self.scope["user"], self.workspace_id)
        allowed = role is not None
        # The role is re-read too: a runner made viewer mid-stream gets no reply form with the next status.
        self.can_reply = allowed and Role.allows(role, Role.RUNNER)
        if not allowed:
            self.resumed = False
            await self.close(code=CLOSE_FORBIDDEN)
        return allowed

    async def _reply(self, data: dict) -> None:
        outcome = await self._answer(data)
        await self.send(text_data=rendering.notice_frame(*outcome))

    @database_sync_to_async
    def _answer(self, data: dict) -> tuple[str, bool]:
        user = self.scope["user"]
        try:
            run = get_run_for_user(user, self.scope["url_route"]["kwargs"]["run_id"], Role.RUNNER)
            request = get_request_for_user(user, run, str(data.get("request") or ""))
            result = reply_to_request(request, user=user, action=str(data.get("action") or "reply"),
                                      text=str(data.get("answer") or ""), choice=data.get("choice"))
        except (Http404, PermissionDenied):
            return "You cannot answer this question.", False
        except ValidationError as error:
            return " ".join(error.messages), False
        return result.message, result.accepted

    @database_sync_to_async
    def _find_run(self, user: Any, run_id: Any) -> tuple[int, int, bool, Any] | None:
        try:
            run = get_run_for_user(user, run_id)
        except (Http404, PermissionDenied):
            return None
        return run.pk, run.workspace_id, Role.allows(run.role, Role.RUNNER), run.public_id

    @database_sync_to_async
    def _messages_after(self, seq: int) -> list[Message]:
        return list(
            Message.objects.filter(run_id=self.run_pk, seq__gt=seq).select_related("author").order_by("seq")[:REPLAY_BATCH]
        )

    @database_sync_to_async
    def _status_html(self) -> str | None:
        run = Run.objects.filter(pk=self.run_pk).first()
        if run is None:
            return None
        return rendering.status_frame(run, open_request(run), self.can_reply)
