"""The step loop of a run: what start_run / continue_run (and `manage.py run_crew`) execute.

    execute(run_public_id, worker="celery@host pid 12") -> outcome label

1. Claim the run (one conditional UPDATE; another delivery of the same task finds nothing to do).
2. Build the engine conversation from the run's frozen crew and its last saved engine snapshot
   (workers/bridge.py); a waiting snapshot gets the person's answer.
3. Step: after each engine step, ONE short transaction inserts the step's messages (next seqs)
   and saves the snapshot; THEN the viewers are told (persist before relay: the database is the
   truth). Token deltas are relayed while the step runs, batched, and never saved.
4. Stop when the chat ends, waits for a person (the task returns: a waiting run holds no worker),
   is cancelled (checked at every step boundary), or fails (an LLM error after retries, or a crew
   that cannot be built; code errors are ordinary turns).
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from django.db import DatabaseError

from studio.runs import conf, persistence
from studio.runs.events import Publisher, message_event, publish, status_event, tokens_event
from studio.runs.models import FINAL_STATUSES, HumanInputRequest, MessageKind, RunStatus
from studio.runs.persistence import Claim, MessageDraft, StepOutcome, UsageDraft
from workers import runkeeper
from workers.agents import SuspendingInput, content_str
from workers.agents.execution.extraction import CODE_BLOCK_PATTERN
from workers.agents.llm import LLMError
from workers.bridge import BridgeError, build_conversation, without_api_keys

logger = logging.getLogger(__name__)

SYSTEM_SENDER = ""  # Parley's own notices have no agent as sender


class TokenBatcher:
    """Collects streamed deltas and relays them per run at most every `interval` seconds, and
    never while the run's previous batch is still on its way. When the relay or Redis falls
    behind, batches grow instead of queueing up, so viewers lag less and the layer carries less."""

    def __init__(self, run_public_id: UUID, publisher: Publisher, interval: float) -> None:
        self.run_public_id = run_public_id
        self.publisher = publisher
        self.interval = interval
        self._pending: dict[str, list[str]] = {}
        self._last_flush = 0.0
        self._sending: Any = None  # the previous batch's send, when the publisher returned one
        self._lock = threading.Lock()

    def add(self, agent: str, delta: str) -> None:
        with self._lock:
            self._pending.setdefault(agent, []).append(delta)
            due = time.monotonic() - self._last_flush >= self.interval
            free = self._sending is None or self._sending.done()
        if due and free:
            self.flush()

    def flush(self) -> None:
        """Relay what has gathered now (also at the end of every step, whatever is in flight)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        for agent, pieces in pending.items():
            text = "".join(pieces)
            if text:
                self._sending = self.publisher(tokens_event(self.run_public_id, agent, text))

class RunSink:
    """The engine's event sink for one run: keeps a step's events until the step is saved."""

    def __init__(self, tokens: TokenBatcher) -> None:
        self.tokens = tokens
        self._events: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict) -> None:
        if event.get("type") == "token":
            self.tokens.add(str(event.get("agent") or ""), str(event.get("delta") or ""))
            return
        with self._lock:
            self._events.append(event)

    def take(self) -> list[dict]:
        with self._lock:
            events, self._events = self._events, []
        return events


def message_kind(message: dict, ran_code: bool) -> str:
    """Which kind of transcript entry an engine message is."""
    if message.get("tool_calls") or message.get("function_call"):
        return MessageKind.TOOL_CALL
    if message.get("role") in ("tool", "function") or message.get("tool_responses"):
        return MessageKind.TOOL_RESULT
    if ran_code:
        return MessageKind.CODE_OUTPUT
    content = message.get("content")
    if isinstance(content, str) and re.search(CODE_BLOCK_PATTERN, content, re.DOTALL):
        return MessageKind.CODE
    return MessageKind.TEXT


def _jsonable(value: Any) -> Any:
    """Plain JSON that every database stores: anything odd becomes its text, and NUL characters
    (which PostgreSQL refuses in text and jsonb, e.g. from binary code output) become U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if value is None or isinstance(value, (int, float, bool)):
        return value
    if isinstance(value, dict):
        return {_jsonable(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return _jsonable(str(value))


def outcome_from_events(events: list[dict], state: dict, answer: HumanInputRequest | None) -> StepOutcome:
    """Turn one step's engine events into the rows to save.

    Usage is attached to the next entry of the agent that used it (a speaker selection takes the
    selector's usage); code output marks the next message of the agent that ran the code; a
    person's answer marks the message of the agent it was given to.
    """
    outcome = StepOutcome(state=state)
    unclaimed_usage: dict[str, list[dict]] = {}
    ran_code: set[str] = set()
    code_results: dict[str, dict] = {}
    human_text = answer.reply if answer is not None and answer.action == "reply" else None

    def take_usage(agent: str | None) -> list[dict]:
        if agent is None:  # a selection: whatever the step's selector used
            found = [u for items in unclaimed_usage.values() for u in items]
            unclaimed_usage.clear()
            return found
        return unclaimed_usage.pop(agent, [])

    def with_usage(draft: MessageDraft, used: list[dict]) -> MessageDraft:
        for item in used:
            draft.prompt_tokens += int(item.get("prompt_tokens") or 0)
            draft.completion_tokens += int(item.get("completion_tokens") or 0)
            draft.cost += float(item.get("cost") or 0.0)
            draft.latency_ms = (draft.latency_ms or 0.0) + float(item.get("latency_ms") or 0.0)
            draft.model = str(item.get("model") or draft.model)
        return draft

    for event in events:
        kind = event.get("type")
        if kind == "usage":
            agent = str(event.get("agent") or "")
            unclaimed_usage.setdefault(agent, []).append(event)
            outcome.usage.append(UsageDraft(agent=agent, model=str(event.get("model") or ""),
                                            prompt_tokens=int(event.get("prompt_tokens") or 0),
                                            completion_tokens=int(event.get("completion_tokens") or 0),
                                            cost=float(event.get("cost") or 0.0)))
        elif kind == "code_output":
            agent = str(event.get("agent") or "")
            ran_code.add(agent)
            code_results[agent] = {"exit_code": event.get("exit_code"), "output": event.get("output")}
        elif kind == "message":
            sender = str(event.get("sender") or "")
            message = event.get("message") if isinstance(event.get("message"), dict) else {"content": event.get("message")}
            content = message.get("content")
            draft = MessageDraft(
                kind=message_kind(message, sender in ran_code), sender=sender,
                recipients=[str(event["recipient"])] if event.get("recipient") else [],
                content=_jsonable(content_str(content)) if content is not None else "",
                payload={"message": _jsonable(message)}, round=event.get("round"),
            )
            if sender in ran_code:
                ran_code.discard(sender)
                draft.payload["code_result"] = _jsonable(code_results.pop(sender, {}))
            if human_text is not None and answer is not None and sender == answer.agent and draft.content == human_text:
                draft.from_human, draft.author_id, human_text = True, answer.replied_by_id, None
            outcome.drafts.append(with_usage(draft, take_usage(sender)))
            if event.get("round") is not None:
                outcome.round = int(event["round"])
        elif kind == "speaker_selected":
            speaker, method = str(event.get("speaker") or ""), str(event.get("method") or "")
            draft = MessageDraft(
                kind=MessageKind.SPEAKER_SELECTION, sender=SYSTEM_SENDER, recipients=[],
                content=f"{speaker} speaks next ({method} selection).",
                payload={"speaker": speaker, "method": method}, round=event.get("round"),
            )
            outcome.drafts.append(with_usage(draft, take_usage(None)))
        elif kind == "notice":
            outcome.drafts.append(MessageDraft(
                kind=MessageKind.SYSTEM_NOTICE, sender=SYSTEM_SENDER, recipients=[], content=_jsonable(str(event.get("text") or "")),
                payload={"level": str(event.get("level") or "info")},
            ))
        elif kind == "finished":
            outcome.finished = {"reason": event.get("reason"), "summary": _jsonable(event.get("summary")),
                                "code": event.get("code")}
    return outcome


def execute(run_public_id: UUID | str, *, worker: str = "", publisher: Publisher | None = None) -> str:
    """Run the run's steps until it ends, waits, is cancelled or fails. Returns what happened:
    "not claimed", "completed", "awaiting_input", "cancelled", "failed" or "lost" (taken over).

    `publisher` receives the run's relay events (default: the relay itself); `run_crew` adds
    printing the transcript."""
    publisher = publisher or publish
    claim = persistence.claim_run(run_public_id, worker or "unknown worker")
    if claim is None:
        return "not claimed"
    runkeeper.heartbeats.hold(claim.lease)
    try:
        publisher(status_event(claim.public_id, RunStatus.RUNNING, claim.last_seq))
        status = _drive(claim, publisher)
    except persistence.LostLease as lost:
        logger.warning("stopping: %s", lost)
        status = "lost"
    finally:
        runkeeper.heartbeats.release(claim.lease)
    if status in RunStatus.values:
        publisher(status_event(claim.public_id, status, claim.last_seq))
    return status


def work_dir_for(run_public_id: UUID) -> Path:
    """Where the run's code runs on this host. It outlives a wait for a person (files written by
    one code block stay for the next) and is removed when the run ends."""
    return Path(tempfile.gettempdir()) / "parley-runs" / run_public_id.hex


def _drive(claim: Claim, publisher: Publisher) -> str:
    tokens = TokenBatcher(claim.public_id, publisher, conf.token_batch_seconds())
    sink = RunSink(tokens)
    built = None
    status = "lost"
    try:
        built = build_conversation(
            claim.crew_snapshot, sink=sink, input_provider=SuspendingInput(), snapshot=claim.engine_state,
            task=claim.task or None, conversation_id=claim.public_id.hex, work_dir=work_dir_for(claim.public_id),
        )
        status = _steps(claim, built.conversation, sink, tokens, publisher)
        return status
    except BridgeError as error:
        status = _failed(claim, str(error))
        return status
    except LLMError as error:
        detail = error.provider_message or str(error)
        status = _failed(claim, f"The model did not answer: {detail}")
        return status
    except (persistence.LostLease, DatabaseError):
        raise  # nothing can be written now; the heartbeat stops and recovery resumes the run
    except Exception as error:  # a bug or an engine refusal: say so on the run instead of retrying forever
        logger.exception("run %s stopped by an unexpected error", claim.public_id)
        status = _failed(claim, f"The run stopped on an unexpected error: {error.__class__.__name__}: {error}")
        return status
    finally:
        if built is not None:
            built.close()
        if status in FINAL_STATUSES:
            shutil.rmtree(work_dir_for(claim.public_id), ignore_errors=True)


def _steps(claim: Claim, conversation: Any, sink: RunSink, tokens: TokenBatcher, publisher: Publisher) -> str:
    answer: HumanInputRequest | None = None
    if conversation.waiting:
        answer = persistence.pending_answer(claim)
        if answer is None:
            persistence.back_to_waiting(claim)
            return RunStatus.AWAITING_INPUT
        conversation.answer(answer.reply or "")
    # A cancel that arrived while the run was queued or waiting; later ones are seen by save_step,
    # which ends the run at the boundary of the step during which the cancel arrived.
    if persistence.stop_if_cancelled(claim):
        return RunStatus.CANCELLED
    while True:
        persistence.release_connection()
        conversation.step()
        tokens.flush()
        events = sink.take()
        if conversation.waiting:
            # The step was rolled back; it re-runs with the answer, so its partial events go too.
            events = [e for e in events if e.get("type") == "notice"]
        outcome = outcome_from_events(events, _jsonable(conversation.snapshot()), answer)
        if conversation.waiting:
            outcome.request = dict(conversation.pending["request"])
        answer = None
        saved = persistence.save_step(claim, outcome)
        if saved.last_seq >= saved.first_seq:
            publisher(message_event(claim.public_id, saved.last_seq))
        if saved.status != RunStatus.RUNNING:  # completed, waiting, or cancelled meanwhile
            return saved.status


def _failed(claim: Claim, error: str) -> str:
    error = without_api_keys(claim.crew_snapshot, error)
    logger.info("run %s failed: %s", claim.public_id, error)
    return RunStatus.FAILED if persistence.fail_run(claim, error) else "lost"


def worker_label(hostname: str | None) -> str:
    import os

    return f"{hostname or 'worker'} pid {os.getpid()}"

