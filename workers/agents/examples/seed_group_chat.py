"""Seed crew: a planner, a coder and a reviewer work in a group chat; a user proxy runs the code.

    python -m workers.agents.examples.seed_group_chat --base-url URL [--model M] [--api-key K]
"""

from __future__ import annotations

import tempfile
from typing import Any

import workers.agents as autogen

from ._common import TASK_COMPLETE, llm_config, parse_args, report, task_complete

TASK = "Write and run a Python script that prints the first ten square numbers, separated by spaces."

PLANNER_PROMPT = """You are the planner. Break the task into a short numbered plan that the coder can follow.
Do not write code. Keep the plan to a few lines."""

CODER_PROMPT = """You are the coder. Turn the plan into one complete, runnable ```python block that prints its results.
The user proxy runs it and reports the output. If it fails, send a corrected full version."""

REVIEWER_PROMPT = f"""You are the reviewer. Check the executed output against the task.
If it is right, say so in one sentence and end with {TASK_COMPLETE}. Otherwise explain what the coder must fix."""


def build_agents(config: dict[str, Any], work_dir: str) -> tuple[autogen.UserProxyAgent, autogen.GroupChatManager]:
    user_proxy = autogen.UserProxyAgent(
        "user_proxy",
        human_input_mode="NEVER",
        max_consecutive_auto_reply=10,
        is_termination_msg=task_complete,
        code_execution_config={"work_dir": work_dir, "use_docker": False},
        description="Runs the code blocks the coder writes and reports their output.",
    )
    planner = autogen.AssistantAgent("planner", system_message=PLANNER_PROMPT, llm_config=config,
                                     description="Breaks the task into a plan; writes no code.")
    coder = autogen.AssistantAgent("coder", system_message=CODER_PROMPT, llm_config=config,
                                   description="Writes the Python code that carries out the plan.")
    reviewer = autogen.AssistantAgent("reviewer", system_message=REVIEWER_PROMPT, llm_config=config,
                                      description="Checks the executed output and declares the task complete.")
    group = autogen.GroupChat(agents=[user_proxy, planner, coder, reviewer], messages=[], max_round=20)
    manager = autogen.GroupChatManager(groupchat=group, llm_config=config, is_termination_msg=task_complete)
    return user_proxy, manager


def main(argv: list[str] | None = None) -> int:
    args = parse_args("Group chat crew (planner, coder, reviewer, user proxy).", argv)
    with tempfile.TemporaryDirectory(prefix="parley-group-") as work_dir:
        user_proxy, manager = build_agents(llm_config(args), work_dir)
        result = user_proxy.initiate_chat(manager, message=TASK)
    report(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
