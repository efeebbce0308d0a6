"""The §6.2 message window and the reply text, shared by both runner flavours."""

from __future__ import annotations

from typing import Any, Sequence

from .base import CodeResult


def validate_last_n_messages(value: Any) -> Any:
    """Return the value if it is "auto" or a non-negative number; else ValueError."""
    if value == "auto" and isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"last_n_messages: expected a non-negative integer or 'auto', got {value!r}")


def messages_to_scan(messages: Sequence[dict[str, Any]], last_n_messages: Any) -> list[dict[str, Any]]:
    """The window, oldest first: the trailing run of role-"user" messages for "auto", else the last n."""
    last_n_messages = validate_last_n_messages(last_n_messages)
    if last_n_messages == "auto":
        count = 0
        for message in reversed(messages):
            if message.get("role") != "user":
                break
            count += 1
    else:
        count = int(last_n_messages)
    count = min(len(messages), count)
    return list(messages[len(messages) - count:]) if count else []


def format_reply(exit_code: int, output: str) -> str:
    outcome = "execution succeeded" if exit_code == 0 else "execution failed"
    return f"exitcode: {exit_code} ({outcome})\nCode output: {output}"


class WindowRunner:
    """Base for runners: scans the window newest first and runs the first message with code."""

    last_n_messages: Any = "auto"

    def __init__(self) -> None:
        self.last_result: CodeResult | None = None

    def _run_message(self, content: Any) -> CodeResult | None:
        """Run the code in one message's content; None when it holds no code."""
        raise NotImplementedError

    def reply(self, messages: Sequence[dict[str, Any]]) -> tuple[bool, str | None]:
        """``(True, reply text)`` after running code, ``(False, None)`` when the window has none."""
        self.last_result = None
        for message in reversed(messages_to_scan(messages, self.last_n_messages)):
            content = message.get("content")
            if not content:  # skipped, but it still counted towards the window
                continue
            result = self._run_message(content)
            if result is None:
                continue
            self.last_result = result
            return True, format_reply(result.exit_code, result.output)
        return False, None

    def close(self) -> None:
        pass

    def __enter__(self) -> "WindowRunner":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
