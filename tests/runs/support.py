"""Builders and helpers shared by the run tests (no tests here).

Crews are made through the studio's own services; runs are started with studio.runs.services and
executed by workers.runloop.execute, the function the Celery tasks call.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any, Callable

from django.db import connection

from studio.crews import services as crew_services
from studio.runs.models import Message, Run
from tests.plugins.processes import remove_queue
from tests.studio.crews_support import make_agent, make_model, replay_model, workspace_of

__all__ = ["Background", "fake_llm_crew", "human_crew", "make_agent", "make_model", "replay_model",
           "transcript", "wait_until", "workspace_of", "execute_here", "queued_tasks", "remove_queue",
           "waiting_team_run"]


def fake_llm_crew(workspace: Any, user: Any, fake_llm: Any, *, name: str = "Counter", limit: int = 3,
                  task: str = "Count with me.", assistant: str = "counter") -> Any:
    """boss (user proxy, NEVER, `limit` auto-replies) ↔ an assistant on the fake LLM server: a
    chat of 2 * limit + 2 messages whose replies depend only on the request (resumable)."""
    model = make_model(workspace, user, name=f"{name} model", base_url=fake_llm.openai_base_url)
    helper = make_agent(workspace, user, name=assistant, model=model, system_message="You count.")
    boss = make_agent(workspace, user, name=f"{assistant}_boss", kind="user_proxy", human_input_mode="NEVER",
                      max_consecutive_auto_reply=limit, default_auto_reply="go on",
                      termination_rule="none")
    return crew_services.create_crew(workspace, user=user, name=name, kind="two_agent", initiator=boss,
                                     recipient=helper, task=task)


def counting_reply(request: Any) -> str:
    """The fake LLM's answer: how many messages it was sent (deterministic, stateless)."""
    return f"reply to {len(request.messages)} messages"


def human_crew(workspace: Any, user: Any, *, name: str = "Ask me", mode: str = "ALWAYS",
               replies: list[str] | None = None, task: str = "Plan a picnic.") -> Any:
    """me (user proxy asking a person, `mode`) ↔ helper on a Replay model (in-process, no network)."""
    model = replay_model(workspace, user, name=f"{name} replay",
                         replies=replies or ["Idea one.", "Idea two.", "Idea three.", "Idea four."],
                         when_exhausted="repeat_last")
    helper = make_agent(workspace, user, name="helper", model=model, system_message="You help.")
    me = make_agent(workspace, user, name="me", kind="user_proxy", human_input_mode=mode,
                    max_consecutive_auto_reply=5, default_auto_reply="carry on", termination_rule="none")
    return crew_services.create_crew(workspace, user=user, name=name, kind="two_agent", initiator=me,
                                     recipient=helper, task=task)


def transcript(run: Run) -> list[tuple[int, str, str, str]]:
    """(seq, kind, sender, content) of every message, in order."""
    return [(m.seq, m.kind, m.sender, m.content) for m in Message.objects.filter(run=run).order_by("seq")]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "") -> Any:
    from django.db import OperationalError

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except OperationalError as error:
            # Local runs use SQLite's shared in-memory test database, whose table locks are not
            # waited for (embedded mode's WAL file is); a poll just tries again.
            if "locked" not in str(error):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


def execute_here(run: Run, **kwargs: Any) -> str:
    """Run the worker's step loop in this thread (what start_run/continue_run do)."""
    from workers.runloop import execute

    return execute(run.public_id, worker=kwargs.pop("worker", "test-thread"), **kwargs)


def waiting_team_run(owner: Any, member: Any, role: str) -> tuple[Any, Run]:
    """A team where `owner` owns and `member` has `role`, and a run of the owner's human crew
    that now waits for its person (seq 1..2 saved)."""
    from studio.runs import services
    from tests.factories import WorkspaceFactory, add_member

    team = WorkspaceFactory()
    add_member(team, owner, "owner")
    add_member(team, member, role)
    run = services.start_run(human_crew(team, owner), user=owner, dispatch=False)
    execute_here(run)
    return team, Run.objects.get(pk=run.pk)


class Background:
    """The worker's step loop in a thread of this process (a stand-in for a worker slot)."""

    def __init__(self, run: Run, **kwargs: Any) -> None:
        self.result: str | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(run, kwargs), daemon=True)
        self._thread.start()

    def _run(self, run: Run, kwargs: dict) -> None:
        try:
            self.result = execute_here(run, **kwargs)
        except BaseException as error:  # reported by join()
            self.error = error
        finally:
            connection.close()

    def join(self, timeout: float = 20.0) -> str | None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the run's step loop did not finish within {timeout:.0f} s")
        if self.error is not None:
            raise self.error
        return self.result


def queued_tasks(queue: str) -> list[tuple[str, list]]:
    """(task name, args) of the messages waiting in a Redis queue, oldest first."""
    import redis

    from workers.celery import app

    client = redis.Redis.from_url(app.conf.broker_url)
    try:
        raw = client.lrange(queue, 0, -1)
    finally:
        client.close()
    found = []
    for item in reversed(raw):  # kombu LPUSHes, workers BRPOP: the right end is the oldest
        message = json.loads(item)
        body = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], body[0]))
    return found
