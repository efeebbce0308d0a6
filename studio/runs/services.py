"""What people do to runs: start one, answer its question, cancel it. Views, the websocket
consumer and the command line all call these; each is one short transaction, and the work itself
is queued for a worker only once the transaction has committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from studio.accounts import audit
from studio.accounts.audit import Action
from studio.accounts.models import User
from studio.runs.events import enqueue_on_commit, publish_on_commit, status_event
from studio.runs.models import (
    HumanInputRequest,
    ReplyAction,
    RequestStatus,
    Run,
    RunStatus,
)

END_ANSWER = "exit"  # what the engine takes as "end the conversation" (spec §4.2)


def start_run(crew: Any, *, user: User | None, task: str | None = None, dispatch: bool = True) -> Run:
    """Freeze the crew, create a queued Run and queue `start_run` for a worker.

    `task` overrides the crew's default task message. Raises ValidationError listing why the
    crew cannot run (e.g. a model without an API key). `dispatch=False` leaves the run queued
    for a caller that executes it itself (the `run_crew` command).
    """
    from studio.crews.services import run_problems
    from studio.crews.snapshots import export_crew

    problems = run_problems(crew)
    if problems:
        raise ValidationError(problems)
    if task is not None and not isinstance(task, str):
        raise TypeError(f"task must be a str or None (got {type(task).__name__})")
    document = export_crew(crew)
    task_text = task.strip() if task and task.strip() else document["crew"].get("task") or ""
    with transaction.atomic():
        run = Run.objects.create(
            workspace_id=crew.workspace_id, crew=crew, crew_name=crew.name, crew_snapshot=document,
            task=task_text, started_by=user,
        )
        audit.record(crew.workspace, user, Action.RUN_STARTED, run, crew=crew.name)
        if dispatch:
            enqueue_on_commit("start_run", run.public_id)
    return run


@dataclass
class ReplyResult:
    accepted: bool
    message: str
    answered_by: str | None = None


def answer_text(request: HumanInputRequest, action: str, text: str = "", choice: str | None = None) -> str:
    """The line the engine receives for a reply from the page (the console's equivalent).

    reply → the text; continue → "" (enter: let the agent auto-reply); end → "exit";
    choose → the speaker's number in the offered list; skip → "" (the engine picks).
    Raises ValidationError when the action does not fit this question.
    """
    if action not in ReplyAction.values:
        raise ValidationError({"action": f"Unknown action “{action}”."})
    if action not in request.allowed_actions:
        raise ValidationError({"action": f"“{ReplyAction(action).label}” is not possible for this question."})
    if action == ReplyAction.REPLY:
        if not isinstance(text, str) or not text.strip():
            raise ValidationError({"answer": "Type a reply (or choose another action)."})
        if "\x00" in text:
            raise ValidationError({"answer": "The reply contains a NUL character; remove it and send again."})
        return text
    if action == ReplyAction.END:
        return END_ANSWER
    if action == ReplyAction.CHOOSE:
        choices = list(request.choices or [])
        if choice not in choices:
            raise ValidationError({"choice": f"Choose one of: {', '.join(choices)}."})
        return str(choices.index(choice) + 1)  # the engine's manual selection reads a number
    return ""  # continue / skip


def reply_to_request(request: HumanInputRequest, *, user: User | None, action: str, text: str = "",
                     choice: str | None = None, dispatch: bool = True) -> ReplyResult:
    """Answer a question exactly once and queue the run's continuation.

    Two conditional UPDATEs in one transaction (run first, then the question, the same lock order
    as the worker): the first reply moves the run from awaiting_input to queued; any racing reply
    finds it moved and reports who answered. Invalid answers raise ValidationError.
    """
    answer = answer_text(request, action, text, choice)
    now = timezone.now()
    with transaction.atomic():
        resumed = Run.objects.filter(
            pk=request.run_id, status=RunStatus.AWAITING_INPUT, cancel_requested=False
        ).update(status=RunStatus.QUEUED)
        claimed = resumed and HumanInputRequest.objects.filter(pk=request.pk, status=RequestStatus.OPEN).update(
            status=RequestStatus.ANSWERED, reply=answer, action=action, replied_by=user, replied_at=now
        )
        if not claimed:
            transaction.set_rollback(True)
        else:
            # Not the whole row: the frozen crew and the engine snapshot can be large.
            run = Run.objects.only("public_id", "last_seq", "crew_name", "status", "workspace").get(pk=request.run_id)
            audit.record(run.workspace, user, Action.RUN_REPLIED, run, crew=run.crew_name, agent=request.agent,
                         answer_kind=action)
            if dispatch:
                enqueue_on_commit("continue_run", run.public_id)
            publish_on_commit(status_event(run.public_id, RunStatus.QUEUED, run.last_seq))
    if claimed:
        return ReplyResult(True, "Thanks, the run continues.", _name(user))
    return _refusal(request)


def _name(user: User | None) -> str | None:
    return user.get_username() if user is not None else None


def _refusal(request: HumanInputRequest) -> ReplyResult:
    current = HumanInputRequest.objects.select_related("replied_by", "run").get(pk=request.pk)
    if current.status == RequestStatus.ANSWERED:
        who = current.replied_by.get_username() if current.replied_by else "someone at the command line"
        return ReplyResult(False, f"Already answered by {who}.", who)
    if current.status == RequestStatus.CANCELLED or current.run.status == RunStatus.CANCELLED:
        return ReplyResult(False, "The run was cancelled; the question no longer needs an answer.")
    return ReplyResult(False, "The run is not waiting for this answer any more.")


def cancel_run(run: Run, *, user: User | None) -> bool:
    """Cancel a run. A queued or waiting run ends at once; a running one stops at the next turn
    boundary (its worker sees the flag). Everything so far is kept. False when it had already ended.
    """
    now = timezone.now()
    idle = [RunStatus.QUEUED, RunStatus.AWAITING_INPUT]
    with transaction.atomic():
        # One statement, so a run moving between running and waiting cannot slip past the cancel.
        changed = Run.objects.filter(pk=run.pk, status__in=[*idle, RunStatus.RUNNING]).update(
            cancel_requested=True,
            cancelled_by=user,
            status=Case(When(status__in=idle, then=Value(RunStatus.CANCELLED)), default=F("status")),
            finished_at=Case(When(status__in=idle, then=Value(now)), default=F("finished_at")),
        )
        if changed:
            HumanInputRequest.objects.filter(run_id=run.pk, status=RequestStatus.OPEN).update(status=RequestStatus.CANCELLED)
            audit.record(run.workspace, user, Action.RUN_CANCELLED, run, crew=run.crew_name)
            current = Run.objects.values("public_id", "status", "last_seq").get(pk=run.pk)
            publish_on_commit(status_event(current["public_id"], current["status"], current["last_seq"]))
    return bool(changed)


def open_request(run: Run) -> HumanInputRequest | None:
    if run.status != RunStatus.AWAITING_INPUT:
        return None
    return run.input_requests.filter(status=RequestStatus.OPEN).order_by("-id").first()

