"""`Conversation`: a chat driven one step at a time, with events, snapshots and resume.

The reference runs a two-agent chat as recursive send → receive → reply calls. Here the same
chat is an explicit loop: each step is one agent's reply (or one group-chat step) delivered, so
the chat can stop after any step, be saved as plain JSON, and continue elsewhere with the same
transcript. `initiate_chat` is `Conversation.start(...).run()`, so this is the only chat path.

A step is atomic with respect to human input: when a provider raises `HumanInputNeeded`, the
step's effects are rolled back, the request is recorded as `pending`, and the step is re-run
once answers are given (earlier answers of the same step are replayed in order).
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any, Callable, Mapping

from . import events
from .asyncutil import drive
from .chat import ChatResult, gather_usage_summary, validate_summary_method
from .human import HumanInputNeeded, make_request, may_suspend
from .termination import AnswerReplay, TerminationMixin, current_replay, install_replay, uninstall_replay
from .turns import TurnsMixin, is_group_manager, warn_exact_terminate

SNAPSHOT_VERSION = 1
CALLABLE_SUMMARY = "<callable>"
_UNSET: Any = object()


class Conversation(TurnsMixin):
    """One chat between an initiator and a recipient (an agent or a group chat manager)."""

    def __init__(
        self,
        initiator: Any,
        recipient: Any,
        *,
        conversation_id: str,
        max_turns: int | None,
        silent: bool | None,
        summary_method: Any,
        summary_args: dict | None,
        sink: Callable[[dict], None] | None,
        cursor: dict,
        cache: Any = None,
    ):
        self.initiator = initiator
        self.recipient = recipient
        self.id = conversation_id
        self.max_turns = max_turns
        self.mode = "pingpong" if max_turns is None else "max_turns"
        self.silent = silent
        self.summary_method = summary_method
        self.summary_args = dict(summary_args or {})
        self.sink = sink
        self.cursor = cursor
        self.cache = cache
        self.pending: dict | None = None
        self.finished: dict | None = None
        self._stepper: Any = None
        self.participants()  # validates distinct names up front

    # ---- construction --------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        initiator: Any,
        recipient: Any,
        message: Any = None,
        *,
        max_turns: int | None = None,
        clear_history: bool = True,
        silent: bool | None = False,
        cache: Any = None,
        summary_method: Any = "last_msg",
        summary_args: dict | None = None,
        sink: Callable[[dict], None] | None = None,
        conversation_id: str | None = None,
        is_async: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> "Conversation":
        """Check and prepare the pair (spec §5.1); nothing is sent until the first step.

        `seed` seeds a group chat's "random" speaker selection (else it comes from `random`);
        `kwargs` are the reference's message context (e.g. `carryover`).
        """
        if max_turns is not None:
            if isinstance(max_turns, bool) or not isinstance(max_turns, int):
                raise TypeError(f"max_turns must be an int or None, got {max_turns!r}")
            if max_turns < 0:
                raise ValueError(f"max_turns must be >= 0, got {max_turns}")
        validate_summary_method(summary_method)
        if summary_method == "reflection_with_llm" and initiator.client is None and recipient.client is None:
            raise AssertionError("summary_method='reflection_with_llm' needs an llm_config on the initiator or the recipient")
        if not is_async:
            for agent in (initiator, recipient):
                agent._raise_exception_on_async_reply_functions()
        if sink is not None and not callable(sink):
            raise TypeError(f"sink must be callable, got {type(sink).__name__}")
        warn_exact_terminate(initiator, recipient)

        cursor = {
            "phase": "open" if max_turns is None else "initiator",
            "turn": 0,
            "responder": None,
            "steps": 0,
            "round": 0,
            "opening": None,
            "seed": seed,
        }
        conversation = cls(
            initiator,
            recipient,
            conversation_id=conversation_id or uuid.uuid4().hex,
            max_turns=max_turns,
            silent=silent,
            summary_method=summary_method,
            summary_args=summary_args,
            sink=sink,
            cursor=cursor,
            cache=cache,
        )
        for agent in (initiator, recipient):
            agent.previous_cache, agent.client_cache = agent.client_cache, cache
        initiator._prepare_chat(recipient, clear_history, reply_at_receive=max_turns is None)
        if callable(message):
            # Evaluated where the reference evaluates it: after preparation, before the first send.
            cursor["opening"] = {"message": message(initiator, recipient, kwargs), "raw": True}
        else:
            cursor["opening"] = {"message": message, "kwargs": kwargs, "raw": False}
        return conversation

    @classmethod
    def restore(
        cls,
        agents_by_name: Mapping[str, Any],
        snapshot: Mapping[str, Any] | str,
        *,
        sink: Callable[[dict], None] | None = None,
        summary_method: Any = _UNSET,
        summary_args: dict | None = None,
    ) -> "Conversation":
        """Continue a snapshot on agents built from the same configuration (e.g. in another process)."""
        if isinstance(snapshot, (str, bytes)):
            snapshot = json.loads(snapshot)
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {snapshot.get('version')!r}; expected {SNAPSHOT_VERSION}")
        initiator = _lookup(agents_by_name, snapshot["initiator"])
        recipient = _lookup(agents_by_name, snapshot["recipient"])
        method = snapshot["summary"]["method"]
        if summary_method is _UNSET:
            if method == CALLABLE_SUMMARY:
                raise ValueError("the snapshot used a callable summary_method; pass it again as summary_method=")
            summary_method = method
        validate_summary_method(summary_method)
        conversation = cls(
            initiator,
            recipient,
            conversation_id=snapshot["conversation_id"],
            max_turns=snapshot["max_turns"],
            silent=snapshot["silent"],
            summary_method=summary_method,
            summary_args=summary_args if summary_args is not None else snapshot["summary"]["args"],
            sink=sink,
            cursor=copy.deepcopy(snapshot["cursor"]),
        )
        participants = conversation.participants()
        for name, state in snapshot["agents"].items():
            _lookup(agents_by_name, name)._set_state(state, participants)
        if snapshot.get("group") is not None:
            from .groupchat import GroupChatStepper

            conversation._stepper = GroupChatStepper.from_state(recipient, snapshot["group"], participants)
        conversation.pending = copy.deepcopy(snapshot.get("pending"))
        conversation.finished = copy.deepcopy(snapshot.get("finished"))
        return conversation

    # ---- state ---------------------------------------------------------------------------------

    @property
    def conversation_id(self) -> str:
        return self.id

    @property
    def is_group(self) -> bool:
        return is_group_manager(self.recipient)

    @property
    def waiting(self) -> bool:
        """True while a human answer is needed before the next step can run."""
        return self.pending is not None and bool(self.pending.get("waiting"))

    @property
    def done(self) -> bool:
        return self.finished is not None

    def participants(self) -> dict[str, Any]:
        """Every agent whose state belongs to this conversation, by (distinct) name."""
        agents = [self.initiator, self.recipient]
        if self.is_group:
            agents += list(self.recipient.groupchat.agents)
        by_name: dict[str, Any] = {}
        for agent in agents:
            other = by_name.setdefault(agent.name, agent)
            if other is not agent:
                raise ValueError(f"two different agents are named {agent.name!r}; agents in one conversation need distinct names")
        return by_name

    def snapshot(self) -> dict:
        """The whole conversation state as plain JSON data (`json.dumps` works on it)."""
        participants = self.participants()
        names = set(participants)
        method = CALLABLE_SUMMARY if callable(self.summary_method) else self.summary_method
        return {
            "version": SNAPSHOT_VERSION,
            "conversation_id": self.id,
            "mode": self.mode,
            "initiator": self.initiator.name,
            "recipient": self.recipient.name,
            "max_turns": self.max_turns,
            "silent": self.silent,
            "summary": {"method": method, "args": {k: v for k, v in self.summary_args.items() if k != "cache"}},
            "cursor": copy.deepcopy(self.cursor),
            "agents": {name: agent._get_state(counterparts=names) for name, agent in participants.items()},
            "group": self._stepper.to_state() if self._stepper is not None else None,
            "pending": copy.deepcopy(self.pending),
            "finished": copy.deepcopy(self.finished),
        }

    def answer(self, text: str) -> None:
        """Give the answer the pending human request waits for; the next step uses it."""
        if not self.waiting:
            raise RuntimeError("this conversation is not waiting for human input")
        if not isinstance(text, str):
            raise TypeError(f"the answer must be a str, got {type(text).__name__}")
        self.pending["answers"].append(text)
        self.pending["waiting"] = False

    # ---- running -------------------------------------------------------------------------------

    def step(self) -> bool:
        """Run one step; False when the chat has finished or waits for a human."""
        return drive(self._step(aio=False))

    async def a_step(self) -> bool:
        return await self._step(aio=True)

    def run(self) -> ChatResult:
        """Run to the end and return the ChatResult; raises HumanInputNeeded when it suspends."""
        while self.step():
            pass
        return self._outcome()

    async def a_run(self) -> ChatResult:
        while await self.a_step():
            pass
        return self._outcome()

    def result(self) -> ChatResult:
        if self.finished is None:
            raise RuntimeError("the conversation has not finished")
        try:
            chat_id = int(self.id, 16)
        except ValueError:
            chat_id = uuid.uuid4().int
        return ChatResult(
            chat_id=chat_id,
            chat_history=self.initiator.chat_messages[self.recipient],
            summary=self.finished["summary"],
            cost=gather_usage_summary([self.initiator, self.recipient]),
            human_input=self.initiator._human_input,
        )

    def _outcome(self) -> ChatResult:
        if self.waiting:
            error = HumanInputNeeded(self.pending["request"])
            error.conversation = self  # lets the caller snapshot and resume later
            raise error
        return self.result()

    async def _step(self, aio: bool) -> bool:
        if self.finished is not None or self.waiting:
            return False
        outer = current_replay()
        if outer is not None and self.pending is None:
            # A chat nested in another conversation's step shares that step's answers, so a
            # suspension inside it resumes through the outer step like any other prompt.
            replay, token = outer, None
        else:
            replay = AnswerReplay(self.pending["answers"] if self.pending else None)
            token = install_replay(replay)
        participants = self.participants()
        # Capturing costs a copy of every history, so it is taken only when a suspension can
        # happen; without one the step never needs rolling back.
        before = self._capture(participants) if self._may_suspend(participants, outer) else None
        try:
            with events.installed(self.sink, self.id):
                try:
                    progressed = await self._advance(aio)
                except HumanInputNeeded as needed:
                    if before is not None:
                        self._rollback(before, participants)
                    request = needed.request or make_request(self.initiator.name, None, "", "always")
                    self.pending = {"request": dict(request), "answers": list(replay.log), "waiting": True}
                    events.emit("human_input_needed", request=dict(request))
                    self._close_runners()
                    return False
        finally:
            if token is not None:
                uninstall_replay(token)
        self.pending = None
        self.cursor["steps"] += 1
        return progressed

    def _may_suspend(self, participants: dict[str, Any], outer: AnswerReplay | None) -> bool:
        if self.pending is not None or outer is not None:  # resuming, or nested in a step that may
            return True
        for agent in participants.values():
            if may_suspend(getattr(agent, "human_input_provider", None)):
                return True
            # A subclass's own get_human_input may raise HumanInputNeeded too.
            if type(agent).get_human_input is not TerminationMixin.get_human_input:
                return True
        return False

    def _capture(self, participants: dict[str, Any]) -> dict:
        names = set(participants)
        return {
            "agents": {n: a._get_state(counterparts=names) for n, a in participants.items()},
            "group": self._stepper.to_state() if self._stepper is not None else None,
            "cursor": copy.deepcopy(self.cursor),
        }

    def _rollback(self, before: dict, participants: dict[str, Any]) -> None:
        for name, state in before["agents"].items():
            participants[name]._set_state(state, participants)
        self.cursor = before["cursor"]
        if before["group"] is None:
            self._stepper = None
        else:
            from .groupchat import GroupChatStepper

            self._stepper = GroupChatStepper.from_state(self.recipient, before["group"], participants)

    def _close_runners(self) -> None:
        for agent in self.participants().values():
            close = getattr(agent, "_close_runners", None)
            if close is not None:
                close()

def _lookup(agents_by_name: Mapping[str, Any], name: str) -> Any:
    if name not in agents_by_name:
        raise ValueError(f"agents_by_name has no agent named {name!r} (it has {sorted(agents_by_name)})")
    return agents_by_name[name]
