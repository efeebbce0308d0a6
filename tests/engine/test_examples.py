"""The seed crews in workers/agents/examples run as real processes against the fake LLM server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from workers.agents.examples import seed_group_chat, seed_two_agent

ROOT = Path(__file__).resolve().parents[2]


def _run(module: str, fake_llm) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AUTOGEN_USE_DOCKER": "False"}
    return subprocess.run(
        [sys.executable, "-m", module, "--base-url", fake_llm.openai_base_url, "--model", "gpt-test",
         "--api-key", "test-key"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_two_agent_seed_solves_the_task(fake_llm):
    fake_llm.reply("The result is 55: fib(10) = 55. TASK_COMPLETE", contains="exitcode: 0")
    fake_llm.reply("```python\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
                   "    return a\n\nprint(fib(10))\n```")
    done = _run("workers.agents.examples.seed_two_agent", fake_llm)
    assert done.returncode == 0, done.stderr
    assert "exitcode: 0 (execution succeeded)\nCode output: \n55\n" in done.stdout
    assert "=== summary ===\nThe result is 55: fib(10) = 55." in done.stdout
    assert len(fake_llm.requests) == 2
    first = fake_llm.requests[0]
    assert first.messages[0] == {"role": "system", "content": seed_two_agent.ASSISTANT_PROMPT}
    assert first.messages[-1]["content"] == seed_two_agent.TASK


def test_group_seed_runs_plan_code_execution_review(fake_llm):
    prompts = {seed_group_chat.PLANNER_PROMPT: "planner", seed_group_chat.CODER_PROMPT: "coder",
               seed_group_chat.REVIEWER_PROMPT: "reviewer"}
    answers = {
        "planner": "1. Build the squares of 1..10. 2. Print them joined by spaces.",
        "coder": "```python\nprint(' '.join(str(i * i) for i in range(1, 11)))\n```",
        "reviewer": "The output lists the ten squares correctly. TASK_COMPLETE",
    }

    def respond(request) -> str:
        system = request.messages[0]["content"] if request.messages[0]["role"] == "system" else ""
        if system in prompts:
            return answers[prompts[system]]
        # Speaker selection: the transcript's last named message decides who goes next.
        last = next(m for m in reversed(request.messages) if m.get("name") in
                    ("user_proxy", "planner", "coder", "reviewer"))
        if last["name"] == "user_proxy":
            return "reviewer" if str(last["content"]).startswith("exitcode") else "planner"
        return {"planner": "coder", "coder": "user_proxy"}[last["name"]]

    fake_llm.add_rule(text=respond)
    done = _run("workers.agents.examples.seed_group_chat", fake_llm)
    assert done.returncode == 0, done.stderr
    assert "1 4 9 16 25 36 49 64 81 100" in done.stdout
    assert "=== summary ===\nThe output lists the ten squares correctly." in done.stdout
    speakers = [line.split(" (to ")[0] for line in done.stdout.splitlines() if line.endswith("(to chat_manager):")]
    assert speakers == ["user_proxy", "planner", "coder", "user_proxy", "reviewer"]
