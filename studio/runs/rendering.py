"""HTML for runs, in one place: the run page renders these partials, and the websocket sends the
same partials as htmx out-of-band fragments (templates/runs/_frames.html).

Two kinds of callers: `messages_frame` and `tokens_frame` run on the consumer's event loop and must
not touch the database (messages come with their authors loaded); `status_frame`, `panel_frame`
and `run_context` run in a thread (views, `database_sync_to_async`) and may query.

Message text goes through studio.runs.markup (markdown, highlighting, the nh3 allowlist); every
other string is escaped by the templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from django.template.loader import render_to_string

from studio.runs.models import HumanInputRequest, Message, MessageKind, RequestStatus, Run, RunStatus

FRAMES = "runs/_frames.html"

SELECTION_METHODS = {
    "auto": "the manager's model chose",
    "round_robin": "round robin",
    "random": "picked at random",
    "manual": "chosen by a person",
}


@dataclass(frozen=True)
class AgentUsage:
    """One bar of the usage chart: an agent's tokens (prompt and completion) and cost."""

    agent: str
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    prompt_pct: float  # bar widths, relative to the agent with the most tokens
    completion_pct: float

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_rows(run: Run) -> list[AgentUsage]:
    """Per-agent totals from the run's `usage_by_agent`, biggest first (no query)."""
    raw = run.usage_by_agent if isinstance(run.usage_by_agent, dict) else {}
    totals = []
    for agent, values in raw.items():
        if not isinstance(values, dict):
            continue
        prompt, completion = int(values.get("prompt_tokens") or 0), int(values.get("completion_tokens") or 0)
        totals.append((str(agent), str(values.get("model") or ""), int(values.get("calls") or 0), prompt, completion,
                       float(values.get("cost") or 0.0)))
    largest = max((prompt + completion for *_, prompt, completion, _ in totals), default=0) or 1
    rows = [
        AgentUsage(agent, model, calls, prompt, completion, cost,
                   prompt_pct=round(100.0 * prompt / largest, 1), completion_pct=round(100.0 * completion / largest, 1))
        for agent, model, calls, prompt, completion, cost in totals
    ]
    rows.sort(key=lambda row: (-row.total_tokens, row.agent))
    return rows


def selection_label(method: str) -> str:
    return SELECTION_METHODS.get(method, f"{method} selection" if method else "selection")


def latest_selection(run: Run) -> dict[str, str] | None:
    """The newest speaker-selection decision of a group run: {"speaker", "method", "label"}."""
    if not run.max_round:
        return None
    entry = (
        Message.objects.filter(run_id=run.pk, kind=MessageKind.SPEAKER_SELECTION)
        .order_by("-seq").values_list("payload", flat=True).first()
    )
    if not isinstance(entry, dict) or not entry.get("speaker"):
        return None
    method = str(entry.get("method") or "")
    return {"speaker": str(entry["speaker"]), "method": method, "label": selection_label(method)}


def last_answer(run: Run) -> HumanInputRequest | None:
    """The newest answered question while the run goes on (so everyone sees who answered)."""
    if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        return None
    return (
        HumanInputRequest.objects.filter(run_id=run.pk, status=RequestStatus.ANSWERED)
        .select_related("replied_by").order_by("-id").first()
    )


def run_context(run: Run, request: HumanInputRequest | None, can_reply: bool) -> dict[str, Any]:
    """What the status line, the header actions, the usage chart and the question area show."""
    return {
        "run": run, "request": request, "can_reply": can_reply, "usage": usage_rows(run),
        "selection": latest_selection(run), "answered": last_answer(run),
    }


def messages_frame(messages: Iterable[Message]) -> str:
    """New transcript entries (each rendered by runs/_message.html), appended to #transcript;
    clears the streaming preview. Runs on the event loop: no queries."""
    return render_to_string(f"{FRAMES}#messages-frame", {"messages": list(messages)})


def tokens_frame(agent: str, text: str) -> str:
    return render_to_string(f"{FRAMES}#tokens-frame", {"agent": agent, "text": text})


def status_frame(run: Run, request: HumanInputRequest | None, can_reply: bool) -> str:
    """The status line, the header actions, the usage chart and the question area (empty unless
    the run waits for a person); the streaming preview is cleared unless the run is running."""
    return render_to_string(f"{FRAMES}#status-frame", run_context(run, request, can_reply))


def panel_frame(run: Run, can_reply: bool) -> str:
    """The status line, actions and usage chart without the question area (a refresh must never
    wipe a reply being typed)."""
    return render_to_string(f"{FRAMES}#panel-frame", run_context(run, None, can_reply))


def notice_frame(text: str, ok: bool) -> str:
    return render_to_string(f"{FRAMES}#notice-frame", {"text": text, "ok": ok})
