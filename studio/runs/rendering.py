"""HTML for runs, in one place: the run page renders these partials, and the websocket sends the
same partials as htmx out-of-band fragments (templates/runs/_frames.html).

Later work (markdown, code highlighting, charts) extends these templates; the consumer and the
page both pick it up.
"""

from __future__ import annotations

from typing import Iterable

from django.template.loader import render_to_string

from studio.runs.models import HumanInputRequest, Message, Run

FRAMES = "runs/_frames.html"


def messages_frame(messages: Iterable[Message]) -> str:
    """New transcript entries (each rendered by runs/_message.html), appended to #transcript;
    clears the streaming preview."""
    return render_to_string(f"{FRAMES}#messages-frame", {"messages": list(messages)})


def tokens_frame(agent: str, text: str) -> str:
    return render_to_string(f"{FRAMES}#tokens-frame", {"agent": agent, "text": text})


def status_frame(run: Run, request: HumanInputRequest | None, can_reply: bool) -> str:
    """The status line and the question area (empty unless the run waits for a person)."""
    return render_to_string(f"{FRAMES}#status-frame", {"run": run, "request": request, "can_reply": can_reply})


def notice_frame(text: str, ok: bool) -> str:
    return render_to_string(f"{FRAMES}#notice-frame", {"text": text, "ok": ok})
