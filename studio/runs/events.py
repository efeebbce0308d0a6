"""Run events on the relay, and run tasks on the queue: the two ways the studio reaches workers
and browsers.

The relay is a doorbell, not the record: a `run.message` event says "the transcript now reaches
seq N" and every viewer reads what it lacks from the database. So a lost or late event costs a
little latency, never a message, and publishing never fails a run.
"""

from __future__ import annotations

import logging
from typing import Callable
from uuid import UUID

from django.db import transaction

from studio.runs import conf
from workers import relay

logger = logging.getLogger(__name__)

# Takes a run event; may return the send while it is in flight (events.publish does).
Publisher = Callable[[dict], "relay.Sending | None"]


def message_event(run_public_id: UUID | str, seq: int) -> relay.RunMessageEvent:
    return {"type": "run.message", "run": str(run_public_id), "seq": int(seq)}


def status_event(run_public_id: UUID | str, status: str, seq: int) -> relay.RunStatusEvent:
    return {"type": "run.status", "run": str(run_public_id), "status": str(status), "seq": int(seq)}


def tokens_event(run_public_id: UUID | str, agent: str, text: str) -> relay.RunTokensEvent:
    return {"type": "run.tokens", "run": str(run_public_id), "agent": agent, "text": text}


def publish(event: dict) -> relay.Sending | None:
    """Relay one run event to the run's viewers; problems are logged, never raised.

    The worker does not wait for Redis to take it: every run event is a doorbell whose loss costs
    latency, never a message, and a Redis round trip at every token batch and step would hold up
    the run. The relay keeps the order of sends and logs a failed one. Returns the send while it
    is in flight (see workers.runloop.TokenBatcher)."""
    try:
        return relay.publish(relay.group_for_run(event["run"]), event, wait=False)  # type: ignore[arg-type]
    except RuntimeError as error:
        # The in-memory layer with no server loop (a management command in embedded mode):
        # nobody can be watching through this process.
        logger.debug("run event not relayed: %s", error)
    except Exception:  # the layer is down: viewers catch up from the database on reconnect
        logger.warning("run event %s for run %s could not be relayed", event.get("type"), event.get("run"), exc_info=True)
    return None


def publish_on_commit(event: dict) -> None:
    transaction.on_commit(lambda: publish(event))


def enqueue_on_commit(task_name: str, run_public_id: UUID | str) -> None:
    """Queue start_run / continue_run once the surrounding transaction commits."""
    from workers import tasks

    task = {"start_run": tasks.start_run, "continue_run": tasks.continue_run}.get(task_name)
    if task is None:
        raise ValueError(f"task_name must be 'start_run' or 'continue_run' (got {task_name!r})")
    options = {"queue": conf.runs_queue()} if conf.runs_queue() else {}
    task.apply_async_on_commit(args=[str(run_public_id)], **options)
