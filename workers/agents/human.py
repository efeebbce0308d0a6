"""Human input providers.

A provider is a callable `(request: HumanInputRequest) -> str`. Agents ask their provider through
`ConversableAgent._ask_human`; a provider that cannot answer right now raises `HumanInputNeeded`,
which suspends a running `Conversation` at the start of the current turn.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence, TypedDict

HumanInputKind = Literal["always", "limit", "termination", "first_message", "manual_selection"]
HUMAN_INPUT_KINDS: tuple[str, ...] = ("always", "limit", "termination", "first_message", "manual_selection")


class HumanInputRequest(TypedDict):
    agent: str  # the agent asking its human
    sender: str | None  # whose message the human answers, if any
    prompt: str
    kind: HumanInputKind  # always = P1, limit = P2, termination = P3 (spec §4.1)
    choices: list[str] | None  # candidate names for manual speaker selection


HumanInputProvider = Callable[[HumanInputRequest], str]


def make_request(
    agent: str, sender: str | None, prompt: str, kind: str, choices: Sequence[str] | None = None
) -> HumanInputRequest:
    if kind not in HUMAN_INPUT_KINDS:
        raise ValueError(f"kind must be one of {HUMAN_INPUT_KINDS}, got {kind!r}")
    return HumanInputRequest(
        agent=agent, sender=sender, prompt=prompt, kind=kind, choices=list(choices) if choices is not None else None
    )


class HumanInputNeeded(Exception):
    """Raised by a provider that has no answer yet; the conversation suspends until one is given."""

    def __init__(self, request: HumanInputRequest | None = None):
        self.request = request
        who = request["agent"] if request else "an agent"
        super().__init__(f"human input needed for {who}")


class ConsoleInput:
    """The default provider: one line from the console, like the reference's blocking input()."""

    def __call__(self, request: HumanInputRequest) -> str:
        return input(request["prompt"])

    def __repr__(self) -> str:
        return "ConsoleInput()"


class ScriptedInputExhausted(RuntimeError):
    """A ScriptedInput was asked more questions than it has answers."""


class ScriptedInput:
    """Answers from a list, in order; every request is recorded in `.requests`."""

    def __init__(self, answers: Sequence[str]):
        if isinstance(answers, str):
            raise TypeError("answers must be a sequence of strings, not one string")
        self.answers = list(answers)
        self.requests: list[HumanInputRequest] = []
        self._next = 0

    @property
    def remaining(self) -> list[str]:
        return self.answers[self._next :]

    def __call__(self, request: HumanInputRequest) -> str:
        self.requests.append(request)
        if self._next >= len(self.answers):
            raise ScriptedInputExhausted(
                f"ScriptedInput has no answer left for request #{len(self.requests)} "
                f"(agent {request['agent']!r}, kind {request['kind']!r}, prompt {request['prompt']!r}); "
                f"it was given {len(self.answers)} answer(s)"
            )
        answer = self.answers[self._next]
        self._next += 1
        return answer

    def __repr__(self) -> str:
        return f"ScriptedInput({self.answers!r})"


class SuspendingInput:
    """A provider that never answers by itself: every request suspends the conversation.

    Web and queue front ends use it: the request is shown to a person, and the answer comes back
    through `Conversation.answer()`.
    """

    may_suspend = True

    def __call__(self, request: HumanInputRequest) -> str:
        raise HumanInputNeeded(request)

    def __repr__(self) -> str:
        return "SuspendingInput()"


def may_suspend(provider: object) -> bool:
    """Whether `provider` can raise HumanInputNeeded instead of answering.

    The console and scripted providers always answer (or block), so a conversation whose
    participants all use them never needs the pre-step state that rolling back a suspension
    takes. A provider may state it with a `may_suspend` attribute; unknown ones are assumed to.
    """
    declared = getattr(provider, "may_suspend", None)
    if declared is not None:
        return bool(declared)
    return not isinstance(provider, (ConsoleInput, ScriptedInput))
