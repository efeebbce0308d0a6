"""The worker's side of a run in the database: claim it, save each step, end it.

Ownership is a lease: `claim_run` puts a fresh token on the run with one conditional UPDATE, and
every later write is a conditional UPDATE on that token and the transcript length it expects
(the row lock it takes is held until the step's messages are in). A worker that lost its run
(taken over after its heartbeat went stale) therefore cannot write a single row more, so a
resumed run never holds a message twice. Each transaction is short: none is ever open across an
LLM call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from django.db import connection, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from studio.runs import conf
from studio.runs.models import (
    HumanInputRequest,
    InputMode,
    Message,
    PromptKind,
    RequestStatus,
    Run,
    RunStatus,
)


class LostLease(RuntimeError):
    """The run is no longer this worker's (taken over, cancelled while waiting, or gone)."""


@dataclass
class Claim:
    pk: int
    public_id: UUID
    lease: UUID
    last_seq: int
    crew_snapshot: dict
    engine_state: dict | None
    task: str
    worker: str
    recovered: bool
    # Per-agent totals as saved; only the lease holder writes them, so the claim keeps them.
    usage_by_agent: dict = field(default_factory=dict)


@dataclass
class MessageDraft:
    kind: str
    sender: str
    recipients: list[str]
    content: str
    payload: dict = field(default_factory=dict)
    round: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_ms: float | None = None
    model: str = ""
    from_human: bool = False
    author_id: int | None = None


@dataclass
class UsageDraft:
    agent: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float


@dataclass
class StepOutcome:
    """What one engine step produced, ready to be saved in one transaction."""

    state: dict
    drafts: list[MessageDraft] = field(default_factory=list)
    usage: list[UsageDraft] = field(default_factory=list)
    round: int | None = None
    finished: dict | None = None  # {"reason", "summary"} when the chat ended
    request: dict | None = None  # the engine's HumanInputRequest when it waits for a person


@dataclass
class Saved:
    status: str
    first_seq: int
    last_seq: int
    request: HumanInputRequest | None = None


def claim_run(public_id: UUID | str, worker: str) -> Claim | None:
    """Take the run if it is queued, or running under a worker whose heartbeat went stale.

    None when someone else holds it or it needs nobody (waiting, finished, cancelled). One
    conditional UPDATE decides, so two deliveries of the same task never both run it.
    """
    now = timezone.now()
    lease = uuid4()
    runs = Run.objects.filter(public_id=public_id)
    common = {
        "status": RunStatus.RUNNING,
        "lease": lease,
        "heartbeat_at": now,
        "worker": worker[:200],
        "claims": F("claims") + 1,
        "started_at": Coalesce(F("started_at"), Value(now, output_field=DateTimeField())),
    }
    with transaction.atomic():
        recovered = False
        taken = runs.filter(status=RunStatus.QUEUED).update(**common)
        if not taken:
            stale_before = now - timedelta(seconds=conf.stale_seconds())
            taken = runs.filter(
                status=RunStatus.RUNNING, heartbeat_at__lt=stale_before, recoveries__lt=conf.max_recoveries()
            ).update(**common, recoveries=F("recoveries") + 1)
            recovered = bool(taken)
        if not taken:
            return None
        row = runs.values("pk", "public_id", "last_seq", "crew_snapshot", "engine_state", "task",
                          "usage_by_agent").get()
    return Claim(pk=row["pk"], public_id=row["public_id"], lease=lease, last_seq=row["last_seq"],
                 crew_snapshot=row["crew_snapshot"], engine_state=row["engine_state"], task=row["task"],
                 worker=worker, recovered=recovered, usage_by_agent=row["usage_by_agent"] or {})


def _lost(claim: Claim) -> LostLease:
    """Why a conditional write matched nothing (read only on this rare path)."""
    row = Run.objects.filter(pk=claim.pk).values("lease", "last_seq", "status").first()
    if row is not None and row["lease"] == claim.lease and row["status"] == RunStatus.RUNNING:
        return LostLease(f"run {claim.public_id} has seq {row['last_seq']}, this worker expected {claim.last_seq}")
    return LostLease(f"run {claim.public_id} is no longer held by this worker")


def _merged_usage(current: dict, usage: list[UsageDraft]) -> dict:
    merged = {name: dict(values) for name, values in (current or {}).items()}
    for item in usage:
        entry = merged.setdefault(item.agent, {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0, "calls": 0})
        entry["prompt_tokens"] += item.prompt_tokens
        entry["completion_tokens"] += item.completion_tokens
        entry["cost"] = round(entry["cost"] + item.cost, 10)
        entry["calls"] += 1
        if item.model:
            entry["model"] = item.model
    return merged


def _input_mode(claim: Claim, request: dict) -> str:
    if request.get("kind") == "manual_selection":
        return InputMode.MANUAL_SELECTION
    for agent in claim.crew_snapshot.get("agents", []):
        if agent.get("name") == request.get("agent") and agent.get("human_input_mode") == "TERMINATE":
            return InputMode.TERMINATE
    return InputMode.ALWAYS


def save_step(claim: Claim, outcome: StepOutcome) -> Saved:
    """Insert the step's messages (next seqs) and save the snapshot, in one transaction.

    Decides the run's status too: completed when the chat ended; awaiting_input when it waits for
    a person; cancelled when a cancel arrived meanwhile (the transcript so far is kept). Raises
    LostLease, writing nothing, when the run is no longer this claim's.

    The run row is written by one UPDATE conditional on the lease and the expected seq, so the
    usual step costs that UPDATE and the messages' INSERT; the cancelled variant is tried only
    when the first one matched nothing.
    """
    now = timezone.now()
    first_seq, last_seq = claim.last_seq + 1, claim.last_seq + len(outcome.drafts)
    fields: dict[str, Any] = {"engine_state": outcome.state, "last_seq": last_seq, "heartbeat_at": now}
    usage_by_agent = claim.usage_by_agent
    if outcome.usage:
        usage_by_agent = _merged_usage(claim.usage_by_agent, outcome.usage)
        fields.update(
            prompt_tokens=F("prompt_tokens") + sum(u.prompt_tokens for u in outcome.usage),
            completion_tokens=F("completion_tokens") + sum(u.completion_tokens for u in outcome.usage),
            cost=F("cost") + sum(u.cost for u in outcome.usage),
            usage_by_agent=usage_by_agent,
        )
    if outcome.round is not None:
        fields["round"] = outcome.round
    if outcome.finished is not None:
        status = RunStatus.COMPLETED
        fields.update(finish_reason=str(outcome.finished.get("reason") or "")[:300],
                      summary=_text(outcome.finished.get("summary")))
    elif outcome.request is not None:
        status = RunStatus.AWAITING_INPUT
    else:
        status = RunStatus.RUNNING
    held = Run.objects.filter(pk=claim.pk, lease=claim.lease, status=RunStatus.RUNNING, last_seq=claim.last_seq)
    with transaction.atomic():
        # A finished chat ends as completed even if a cancel arrived during its last step.
        taken = (held if status == RunStatus.COMPLETED else held.filter(cancel_requested=False)).update(
            **fields, **_ending(status, now))
        if not taken and status != RunStatus.COMPLETED:
            status = RunStatus.CANCELLED
            taken = held.filter(cancel_requested=True).update(**fields, **_ending(status, now))
        if not taken:
            raise _lost(claim)
        Message.objects.bulk_create(
            [_message_row(claim.pk, seq, draft) for seq, draft in enumerate(outcome.drafts, start=first_seq)]
        )
        request = None
        if status == RunStatus.AWAITING_INPUT:
            asked = outcome.request or {}
            request = HumanInputRequest.objects.create(
                run_id=claim.pk, agent=str(asked.get("agent") or ""), sender=str(asked.get("sender") or ""),
                mode=_input_mode(claim, asked), prompt_kind=asked.get("kind") or PromptKind.ALWAYS,
                prompt=str(asked.get("prompt") or ""), choices=asked.get("choices"), after_seq=last_seq,
            )
    claim.last_seq = last_seq
    claim.usage_by_agent = usage_by_agent
    return Saved(status=status, first_seq=first_seq, last_seq=last_seq, request=request)


def _ending(status: str, now: Any) -> dict[str, Any]:
    """The fields that end the lease for a run leaving `running` (none while it keeps running)."""
    if status == RunStatus.RUNNING:
        return {}
    if status == RunStatus.AWAITING_INPUT:
        return {"status": status, "lease": None}
    return {"status": status, "lease": None, "finished_at": now}


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _message_row(run_pk: int, seq: int, draft: MessageDraft) -> Message:
    return Message(
        run_id=run_pk, seq=seq, kind=draft.kind, sender=draft.sender[:100], recipients=draft.recipients,
        content=draft.content, payload=draft.payload, round=draft.round, prompt_tokens=draft.prompt_tokens,
        completion_tokens=draft.completion_tokens, cost=draft.cost, latency_ms=draft.latency_ms,
        model=(draft.model or "")[:200], from_human=draft.from_human, author_id=draft.author_id,
    )


def _end(claim: Claim, status: str, **fields: Any) -> bool:
    fields.update(_ending(status, timezone.now()))
    return bool(Run.objects.filter(pk=claim.pk, lease=claim.lease, status=RunStatus.RUNNING).update(**fields))


def stop_if_cancelled(claim: Claim) -> bool:
    """Before a claimed run's first step: end it as cancelled if someone asked. True when it did.

    The usual answer (no) costs one read and no transaction; _end is a single conditional UPDATE,
    atomic on its own."""
    if not Run.objects.filter(pk=claim.pk, lease=claim.lease, cancel_requested=True).exists():
        return False
    return _end(claim, RunStatus.CANCELLED)


def fail_run(claim: Claim, error: str) -> bool:
    """End the run as failed with `error` shown to people; False when it was no longer ours."""
    return _end(claim, RunStatus.FAILED, error=error)


def back_to_waiting(claim: Claim) -> bool:
    """The run was queued but its question has no answer yet (should not happen): wait again."""
    return _end(claim, RunStatus.AWAITING_INPUT)


def pending_answer(claim: Claim) -> HumanInputRequest | None:
    """The answered question the saved snapshot waits on (the run's newest question), if answered."""
    latest = HumanInputRequest.objects.filter(run_id=claim.pk).order_by("-id").first()
    if latest is None or latest.status != RequestStatus.ANSWERED:
        return None
    return latest


def heartbeat(leases: list[UUID]) -> int:
    """Mark the runs these leases hold as alive (one UPDATE for all of a worker's runs)."""
    if not leases:
        return 0
    return Run.objects.filter(lease__in=leases, status=RunStatus.RUNNING).update(heartbeat_at=timezone.now())


def release_connection() -> None:
    """Hand this thread's database connection back while the run waits on its model.

    With a connection pool (PostgreSQL), a run between steps then pins no connection, so a worker
    with many slots needs only as many connections as steps being saved at once. Without a pool a
    closed connection would mean a new login for every step, so it is kept for the task.
    """
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()

