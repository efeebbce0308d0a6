"""Per-turn engine overhead: the same AutoGen-style script on Parley's engine or on a reference engine.

The model is an in-process scripted client registered through `model_client_cls`, so each reply
goes through the engine's real LLM path (message building, client call, usage accounting) with no
network and no model time: what is measured is the engine itself.

    python bench/engine_turns.py --engine parley --repeat 5      # from the project root
    python bench/engine_turns.py --engine reference --repeat 5   # with the reference installed

Prints one JSON object: seconds per turn (median of the repeats) for each scenario.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
from types import SimpleNamespace

TWO_AGENT_TURNS = 50  # max_turns=50: 100 messages
GROUP_ROUNDS = 100


class ScriptedClient:
    """A model client that answers instantly with a short numbered reply."""

    def __init__(self, config, **kwargs):
        self.model = config.get("model", "scripted")
        self.calls = 0

    def create(self, params):
        self.calls += 1
        text = f"Reply number {self.calls} from the scripted model."
        message = SimpleNamespace(content=text, tool_calls=None, function_call=None, role="assistant")
        usage = SimpleNamespace(prompt_tokens=10, completion_tokens=8, total_tokens=18)
        return SimpleNamespace(
            id=f"scripted-{self.calls}",
            model=self.model,
            choices=[SimpleNamespace(message=message, finish_reason="stop", index=0)],
            usage=usage,
            cost=0.0,
        )

    def message_retrieval(self, response):
        return [choice.message.content for choice in response.choices]

    def cost(self, response):
        return 0.0

    @staticmethod
    def get_usage(response):
        return {
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.completion_tokens,
            "total_tokens": response.usage.total_tokens,
            "cost": 0.0,
            "model": response.model,
        }


def load_engine(name: str):
    if name == "parley":
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import workers.agents as autogen
    else:
        import autogen  # the reference, installed only in the benchmark's own environment
    return autogen


def llm_config():
    return {"config_list": [{"model": "scripted", "model_client_cls": "ScriptedClient"}], "cache_seed": None}


def assistant(autogen, name):
    agent = autogen.AssistantAgent(name=name, llm_config=llm_config(), system_message=f"You are {name}.")
    agent.register_model_client(model_client_cls=ScriptedClient)
    return agent


def transcript(messages) -> list:
    return [(m.get("name"), m.get("role"), m.get("content")) for m in messages]


def two_agent_chat(autogen, record=None) -> int:
    helper = assistant(autogen, "helper")
    user = autogen.UserProxyAgent(
        name="user", human_input_mode="NEVER", code_execution_config=False, default_auto_reply="Go on."
    )
    result = user.initiate_chat(helper, message="Start.", max_turns=TWO_AGENT_TURNS, silent=True)
    if record is not None:
        record["two_agent"] = transcript(result.chat_history)
    return len(result.chat_history)


def group_chat(autogen, record=None) -> int:
    members = [assistant(autogen, name) for name in ("planner", "coder", "reviewer")]
    user = autogen.UserProxyAgent(
        name="user", human_input_mode="NEVER", code_execution_config=False, default_auto_reply="Go on."
    )
    chat = autogen.GroupChat(
        agents=[user, *members], messages=[], max_round=GROUP_ROUNDS, speaker_selection_method="round_robin"
    )
    manager = autogen.GroupChatManager(groupchat=chat, llm_config=False)
    user.initiate_chat(manager, message="Start.", silent=True)
    if record is not None:
        record["group_round_robin"] = transcript(chat.messages)
    return len(chat.messages)


def timed(fn, autogen, repeat: int) -> dict:
    per_turn = []
    turns = 0
    for _ in range(repeat):
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            start = time.perf_counter()
            turns = fn(autogen)
            elapsed = time.perf_counter() - start
        per_turn.append(elapsed / turns)
    return {"turns": turns, "seconds_per_turn": statistics.median(per_turn), "samples": per_turn}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["parley", "reference"], required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--transcripts", action="store_true", help="print the transcripts instead of timings")
    args = parser.parse_args()
    autogen = load_engine(args.engine)
    if args.transcripts:
        record: dict = {}
        with contextlib.redirect_stdout(io.StringIO()):
            two_agent_chat(autogen, record)
            group_chat(autogen, record)
        print(json.dumps(record))
        return
    timed(two_agent_chat, autogen, 1)  # warm imports and caches before measuring
    result = {
        "engine": args.engine,
        "two_agent": timed(two_agent_chat, autogen, args.repeat),
        "group_round_robin": timed(group_chat, autogen, args.repeat),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
