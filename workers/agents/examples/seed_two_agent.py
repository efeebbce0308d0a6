"""Seed crew: an assistant writes code, a user proxy runs it locally, until the task is complete.

    python -m workers.agents.examples.seed_two_agent --base-url URL [--model M] [--api-key K]
"""

from __future__ import annotations

import tempfile
from typing import Any

import workers.agents as autogen

from ._common import TASK_COMPLETE, llm_config, parse_args, report, task_complete

TASK = (
    "Write a Python function fib(n) that returns the n-th Fibonacci number (fib(0) = 0, fib(1) = 1), "
    "then print fib(10)."
)

ASSISTANT_PROMPT = f"""You are a careful Python developer working with a user who runs your code.
Reply with one complete, runnable ```python block at a time; the user executes it and reports the output.
Make the code print its results. If it fails, read the error and send a corrected full version.
When the output shows the task is solved, state the answer in one sentence and end with {TASK_COMPLETE}."""


def build_agents(config: dict[str, Any], work_dir: str) -> tuple[autogen.AssistantAgent, autogen.UserProxyAgent]:
    assistant = autogen.AssistantAgent("assistant", system_message=ASSISTANT_PROMPT, llm_config=config)
    user_proxy = autogen.UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        max_consecutive_auto_reply=10,
        is_termination_msg=task_complete,
        code_execution_config={"work_dir": work_dir, "use_docker": False},
    )
    return assistant, user_proxy


def main(argv: list[str] | None = None) -> int:
    args = parse_args("Two-agent coding crew (assistant + user proxy).", argv)
    with tempfile.TemporaryDirectory(prefix="parley-two-agent-") as work_dir:
        assistant, user_proxy = build_agents(llm_config(args), work_dir)
        result = user_proxy.initiate_chat(assistant, message=TASK)
    report(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
