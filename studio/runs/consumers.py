"""`/ws/runs/<uuid>/`: one run, live, for one member of its workspace.

The protocol, the replay and the per-event access check are studio/runs/consumer_base.py's. This
socket adds replies: `{"type": "reply", "request": uuid, "action": ..., "answer": ..., "choice": ...}`
(the same rules as the POST view). It sends the run page's fragments (studio/runs/rendering.py).

Access: the session's user must be a member of the run's workspace before the consumer joins the
run's group (else close 4404: existence is not revealed); membership is checked again before
every event (close 4403 once it is gone), and the role with it, so a runner made viewer loses the
reply form with the next status. Unauthenticated: 4401.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from studio.accounts.models import Role
from studio.runs import rendering
from studio.runs.access import get_request_for_user, get_run_for_user, role_in
from studio.runs.consumer_base import CLOSE_NOT_FOUND, Admission, RunStreamConsumer
from studio.runs.models import Message, Run
from studio.runs.services import open_request, reply_to_request
from workers.relay import group_for_run

CLOSE_UNAUTHENTICATED = 4401


class RunConsumer(RunStreamConsumer):
    workspace_id: int | None = None
    can_reply = False

    async def admit(self) -> Admission | int:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return CLOSE_UNAUTHENTICATED
        found = await self._find_run(user, self.scope["url_route"]["kwargs"]["run_id"])
        if found is None:
            return CLOSE_NOT_FOUND
        run_pk, self.workspace_id, self.can_reply, public_id = found
        return Admission(run_pk=run_pk, groups=(group_for_run(public_id),))

    def still_allowed(self) -> bool:
        role = role_in(self.scope["user"], self.workspace_id)
        self.can_reply = role is not None and Role.allows(role, Role.RUNNER)
        return role is not None

    def messages_html(self, messages: list[Message]) -> str:
        return rendering.messages_frame(messages)

    def tokens_html(self, agent: str, text: str) -> str:
        return rendering.tokens_frame(agent, text)

    def status_html(self, run: Run) -> str:
        return rendering.status_frame(run, open_request(run), self.can_reply)

    async def command(self, kind: Any, data: dict) -> None:
        if kind == "reply":
            outcome = await self._answer(data)
            await self.send(text_data=rendering.notice_frame(*outcome))

    @database_sync_to_async
    def _answer(self, data: dict) -> tuple[str, bool]:
        # The full access check of the POST view, runner role included, in the same hop as the reply.
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
