"""Value types and protocols shared by the code executors (spec §6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Protocol, runtime_checkable


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: its body and its language tag (possibly inferred, possibly "")."""

    code: str
    language: str


@dataclass(frozen=True)
class CodeResult:
    """The outcome of running one or more blocks.

    Unpacks as ``(exit_code, output)`` so callers may treat it as a pair.
    """

    exit_code: int
    output: str

    def __iter__(self) -> Iterator[Any]:
        return iter((self.exit_code, self.output))


@dataclass(frozen=True)
class CommandLineCodeResult(CodeResult):
    """A command-line executor's result; ``code_file`` is the first file written, if any."""

    code_file: str | None = None


@runtime_checkable
class CodeExtractor(Protocol):
    def extract_code_blocks(self, message: Any) -> list[CodeBlock]: ...


@runtime_checkable
class CodeExecutor(Protocol):
    """What the `executor` key of `code_execution_config` accepts."""

    @property
    def code_extractor(self) -> CodeExtractor: ...

    def execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CodeResult: ...

    def restart(self) -> None: ...
