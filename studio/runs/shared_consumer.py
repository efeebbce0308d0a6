"""`/ws/shared/<token>/`: one run, live and read-only, for whoever holds a share link.

The protocol of /ws/runs/ without replies (studio/runs/consumer_base.py): resume, replay, live
events, as htmx out-of-band fragments from templates/runs/shared_frames.html (no reply or stop
controls). Anything a client sends besides resume is ignored.

No login is involved: the token is the access. It is checked at connect (unknown, revoked or
expired: close 4404, existence not revealed) and again before every event; once the link stops
working the socket closes with 4403: at once when an owner revokes it (the revocation rings the
link's own group), at its expiry time (a timer), and otherwise at the next event.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.template.loader import render_to_string

from studio.runs import sharing
from studio.runs.consumer_base import CLOSE_NOT_FOUND, Admission, RunStreamConsumer
from studio.runs.models import HumanInputRequest, Message, Run
from studio.runs.services import open_request
from workers.relay import group_for_run

FRAMES = "runs/shared_frames.html"


def messages_frame(messages: list[Message]) -> str:
    return render_to_string(f"{FRAMES}#messages-frame", {"messages": messages})


def tokens_frame(agent: str, text: str) -> str:
    return render_to_string(f"{FRAMES}#tokens-frame", {"agent": agent, "text": text})


def status_frame(run: Run, question: HumanInputRequest | None) -> str:
    return render_to_string(f"{FRAMES}#status-frame", {"run": run, "question": question})


class SharedRunConsumer(RunStreamConsumer):
    share_pk: int | None = None

    async def admit(self) -> Admission | int:
        found = await self._find(self.scope["url_route"]["kwargs"]["token"])
        if found is None:
            return CLOSE_NOT_FOUND
        self.share_pk = found.pk
        groups = (group_for_run(found.run.public_id), sharing.group_for_share(found.public_id))
        return Admission(run_pk=found.run_id, groups=groups, ends_at=found.expires_at)

    def still_allowed(self) -> bool:
        return self.share_pk is not None and sharing.still_works(self.share_pk)

    def messages_html(self, messages: list[Message]) -> str:
        return messages_frame(messages)

    def tokens_html(self, agent: str, text: str) -> str:
        return tokens_frame(agent, text)

    def status_html(self, run: Run) -> str:
        return status_frame(run, open_request(run))

    async def share_revoked(self, event: dict) -> None:
        await self.recheck()  # closes the socket

    @database_sync_to_async
    def _find(self, token: Any) -> sharing.RunShare | None:
        return sharing.find_share(str(token))  # with its run loaded
