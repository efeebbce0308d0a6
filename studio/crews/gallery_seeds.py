"""The gallery's ready-made crews, as Parley crew documents (docs/crew-format.md).

`load_gallery` loads them; a seed whose content changes here is reloaded on the next run. The
role prompts are Parley's own. Models carry no keys: whoever copies a crew sets their own.
"""

from __future__ import annotations

from typing import Any

GPT_MINI = {"name": "GPT-4o mini", "provider": "openai", "model": "gpt-4o-mini", "base_url": None,
            "temperature": 0, "max_tokens": None, "price": None, "replay_script": None}


def _agent(name: str, kind: str, *, system: str = "", description: str = "", model: str | None = None,
           mode: str = "NEVER", limit: int | None = None, rule: str = "default", code: str = "off",
           fallback: bool = False, auto_reply: str = "") -> dict[str, Any]:
    return {"name": name, "kind": kind, "description": description, "system_message": system, "model": model,
            "human_input_mode": mode, "max_consecutive_auto_reply": limit,
            "termination": {"rule": rule, "keyword": "TERMINATE"}, "default_auto_reply": auto_reply,
            "code_execution": {"mode": code, "timeout": 60, "local_fallback": fallback}, "tools": []}


def _document(crew: dict[str, Any], agents: list[dict], models: list[dict]) -> dict[str, Any]:
    base = {"description": "", "tags": [], "task": "", "two_agent": None, "group": None}
    return {"format": "parley.crew", "version": 1, "crew": {**base, **crew}, "agents": agents, "models": models}


def _group(members: list[str], initiator: str, **settings: Any) -> dict[str, Any]:
    return {"members": members, "initiator": initiator, "max_round": settings.get("max_round", 20),
            "speaker_selection": "auto", "allow_repeat_speaker": False, "send_introductions": False,
            "manager_model": GPT_MINI["name"], "termination": {"rule": "contains", "keyword": "TERMINATE"},
            "transitions": None}


RUNNER = _agent(
    "runner", "user_proxy", mode="NEVER", limit=10, rule="ends_with", code="docker",
    description="Runs the code blocks it is sent in the sandbox and reports exactly what they printed.",
)

TWO_AGENT_CODER = _document(
    {"name": "Two-agent coder", "kind": "two_agent", "tags": ["code", "starter"],
     "description": "An assistant writes Python, a user proxy runs it in the sandbox, until the task is done.",
     "task": "Print the first 15 Fibonacci numbers, then the ratio of the last two to six decimal places.",
     "two_agent": {"initiator": "runner", "recipient": "coder", "max_turns": None}},
    [RUNNER, _agent(
        "coder", "assistant", model=GPT_MINI["name"],
        system="You write Python to solve the task you are given, working together with a runner who executes "
               "whatever you send. Send exactly one complete program per reply, in a ```python block, and make it "
               "print everything needed to judge the result. When the runner reports an error, work out why and "
               "send the whole corrected program. Once the printed output answers the task, state the answer in a "
               "sentence or two and finish your reply with TERMINATE.",
        description="Writes Python programs for the task and reads their output.")],
    [GPT_MINI],
)

PLANNER_CODER_REVIEWER = _document(
    {"name": "Planner, coder and reviewer", "kind": "group", "tags": ["code", "group chat"],
     "description": "A planner splits the task, a coder implements it, the runner executes, a reviewer signs off.",
     "task": "Write a program that lists every year from 1990 to 2030 in which 13 March is a Friday.",
     "group": _group(["runner", "planner", "coder", "reviewer"], "runner")},
    [RUNNER,
     _agent("planner", "assistant", model=GPT_MINI["name"],
            system="You are the planner of a small software team. Turn the task into a short numbered plan the "
                   "coder can follow directly. Do not write code yourself, and keep each step to one line. If the "
                   "reviewer finds a problem, revise the plan.",
            description="Breaks the task into a few concrete steps; never writes code."),
     _agent("coder", "assistant", model=GPT_MINI["name"],
            system="You are the coder. Implement the current plan as one complete Python program in a ```python "
                   "block that prints its results; the runner executes it and shows the output. If it fails or the "
                   "reviewer objects, send a full corrected program rather than a fragment.",
            description="Implements the plan as a runnable Python program."),
     _agent("reviewer", "assistant", model=GPT_MINI["name"],
            system="You are the reviewer. Compare the runner's actual output with the task, not with what the code "
                   "was meant to do. If something is wrong or missing, say precisely what the coder must change. "
                   "When the output fully answers the task, confirm it in one sentence and end with TERMINATE.",
            description="Checks executed output against the task and decides when it is done.")],
    [GPT_MINI],
)

RESEARCHER_CODER_CRITIC = _document(
    {"name": "Researcher, coder and critic", "kind": "group", "tags": ["analysis", "group chat"],
     "description": "A researcher frames the question, a coder computes, a critic challenges the conclusion.",
     "task": "Estimate how often a run of at least six heads appears in 200 fair coin flips, by simulation.",
     "group": _group(["runner", "researcher", "coder", "critic"], "runner", max_round=24)},
    [RUNNER,
     _agent("researcher", "assistant", model=GPT_MINI["name"],
            system="You are the researcher. Restate the question precisely, note the assumptions and the method "
                   "that would answer it, and name what would count as a convincing result. You do not write code; "
                   "you interpret the numbers the runner reports.",
            description="Frames the question, the method and the assumptions; interprets results."),
     _agent("coder", "assistant", model=GPT_MINI["name"],
            system="You are the coder. Turn the researcher's method into one complete Python program in a "
                   "```python block, using only the standard library, and print clearly labelled results. Fix and "
                   "resend the whole program when it fails.",
            description="Writes the Python that carries out the method."),
     _agent("critic", "assistant", model=GPT_MINI["name"],
            system="You are the critic. Look for weak spots: too few samples, an off-by-one, an unstated "
                   "assumption, a conclusion the numbers do not support. Ask for a fix when one matters. When the "
                   "answer holds up, summarise it in two sentences and end with TERMINATE.",
            description="Challenges the method and the conclusion; ends the chat when the answer holds up.")],
    [GPT_MINI],
)

DEMO_MODEL = {
    "name": "Replay demo", "provider": "replay", "model": "replay-demo", "base_url": None, "temperature": None,
    "max_tokens": None, "price": None,
    "replay_script": {
        # Stateless: a rule matches the runner's report; otherwise the reply follows the number of
        # answers the coder already gave (0: write the code, 1+: the run did not succeed).
        "rules": [{
            "when": "exitcode: 0",
            "reply": "The run worked: there are 15 primes below 50, from 2 up to 47, and together they add up "
                     "to 328. A quick sanity check agrees: 2 is the only even prime, and the other 14 are odd, "
                     "so their sum, and the total, must be even. TERMINATE",
        }],
        "replies": [
            "I'll let a short program do the counting.\n\n```python\n"
            "primes = [n for n in range(2, 50) if all(n % d for d in range(2, int(n ** 0.5) + 1))]\n"
            "print('primes:', primes)\nprint('count:', len(primes))\nprint('sum:', sum(primes))\n```",
            "The program did not run cleanly, so there is no result to discuss; the error above says why. TERMINATE",
        ],
        "when_exhausted": "repeat_last",
    },
}

DEMO = _document(
    {"name": "Demo (no API key)", "kind": "two_agent", "tags": ["demo", "no key needed"],
     "description": "A scripted coder on a Replay model: it writes Python, the sandbox runs it, the result is "
                    "discussed and the chat ends. Needs no API key.",
     "task": "Which numbers below 50 are prime, and what is their sum?",
     "two_agent": {"initiator": "runner", "recipient": "coder", "max_turns": None}},
    [_agent("runner", "user_proxy", mode="NEVER", limit=5, rule="ends_with", code="docker", fallback=True,
            description="Runs the coder's program and reports its output."),
     _agent("coder", "assistant", model=DEMO_MODEL["name"],
            system="You answer with a short Python program, then discuss what it printed.",
            description="A scripted coder (Replay model).")],
    [DEMO_MODEL],
)

# slug -> document, in gallery order.
SEEDS: dict[str, dict[str, Any]] = {
    "demo-no-api-key": DEMO,
    "two-agent-coder": TWO_AGENT_CODER,
    "planner-coder-reviewer": PLANNER_CODER_REVIEWER,
    "researcher-coder-critic": RESEARCHER_CODER_CRITIC,
}
