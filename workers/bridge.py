"""Crew configuration ⇄ engine objects: the one place where the studio and the engine meet.

`build_conversation` takes a crew document in Parley's export format (docs/crew-format.md; what a
Run freezes when it starts) and returns engine agents plus a `Conversation`, new or restored from
an engine snapshot. Everything the studio knows is translated here and nowhere else:

* models → llm_config entries, with the API key decrypted at build time (looked up through the
  document's "source" ids, in the document's own workspace; documents never carry keys), base_url,
  sampling settings and prices (per million tokens → the engine's per-1K `price`);
* termination rules → None-safe predicates; kinds → AssistantAgent / UserProxyAgent / ConversableAgent;
* code execution → the engine's legacy runner: the Docker sandbox (settings.PARLEY_SANDBOX_IMAGE,
  one warm container per agent and conversation) or local. Docker is checked when the conversation
  is built; an agent that allows it falls back to local when no engine answers, and a system
  notice says so (emitted to the sink as {"type": "notice", ...} and kept in `notices`);
* tools → schemas for the owner's LLM (read from the source, never run here) and, for every other
  participant that runs code, a function that executes the tool inside that agent's sandbox.

The caller must `close()` the result (or use it as a context manager) when its step loop ends:
that removes tool sandboxes and containers, and the work directory once the chat has finished.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from django.conf import settings
from django.core.exceptions import ValidationError

from studio.crews.exchange import load_document
from studio.crews.toolspec import ToolSpec, parse_tool, tool_script
from workers.agents import AssistantAgent, Conversation, ConversableAgent, UserProxyAgent, content_str
from workers.agents.execution import LegacyRunner
from workers.agents.execution.sandbox import connect, image_present

MANAGER_NAME = "chat_manager"
KEYED_PROVIDERS = ("openai", "anthropic")
API_TYPES = {"openai": "openai", "anthropic": "anthropic", "openai_compatible": "openai_compatible", "replay": "replay"}
AGENT_CLASSES = {"assistant": AssistantAgent, "user_proxy": UserProxyAgent, "conversable": ConversableAgent}

KeyLookup = Callable[[dict], "str | None"]


class BridgeError(ValueError):
    """The crew cannot run as configured; the message says why in plain words."""


# ---- models -----------------------------------------------------------------------------------------------


def llm_config_for(model: Mapping[str, Any], api_key: str | None, tools: list[dict] | None = None) -> dict:
    """The engine llm_config for one model of a crew document (plus the owner's tool schemas)."""
    provider = model["provider"]
    entry: dict[str, Any] = {"api_type": API_TYPES[provider], "model": model["model"] or "replay"}
    if provider == "replay":
        entry.update(model.get("replay_script") or {})
    else:
        if api_key:
            entry["api_key"] = api_key
        if model.get("base_url"):
            entry["base_url"] = model["base_url"]
        for key in ("temperature", "max_tokens"):
            if model.get(key) is not None:
                entry[key] = model[key]
    price = model.get("price")
    if price:
        entry["price"] = [price["prompt_per_million"] / 1000, price["completion_per_million"] / 1000]
    config: dict[str, Any] = {"config_list": [entry], "cache_seed": None}
    if tools:
        config["tools"] = tools
    return config


def _keys_from_database(document: dict) -> KeyLookup:
    """Keys of the document's models, read from the workspace named in its "source"."""
    from studio.crews.models import ModelEndpoint

    source = document.get("source") or {}
    ids = {name: public_id for name, public_id in (source.get("models") or {}).items() if public_id}
    found = {}
    if ids and source.get("workspace"):
        try:
            rows = ModelEndpoint.objects.filter(workspace__public_id=source["workspace"], public_id__in=list(ids.values()))
            found = {str(row.public_id): row for row in rows}
        except Exception as exc:  # a malformed id is a malformed document, said in words
            raise BridgeError(f"the crew document's source ids are not valid ({exc.__class__.__name__})") from None

    def lookup(model: dict) -> str | None:
        row = found.get(str(ids.get(model["name"])))
        return row.reveal_key() if row is not None else None

    return lookup


def without_api_keys(document: dict, text: str) -> str:
    """`text` with every API key of the document's models masked. Providers sometimes quote the key
    they rejected, and a run's failure text is shown to every member (and to share links)."""
    try:
        lookup = _keys_from_database(document)
        keys = [key for key in (lookup(model) for model in document.get("models") or []) if key]
    except Exception:  # an unreadable key cannot be quoted by a provider either
        keys = []
    for key in sorted(keys, key=len, reverse=True):
        text = text.replace(key, "••••")
    return text


def _model_configs(document: dict, key_for: KeyLookup) -> dict[str, dict]:
    configs = {}
    for model in document["models"]:
        key = key_for(model)
        if model["provider"] in KEYED_PROVIDERS and not key:
            raise BridgeError(f"The model “{model['name']}” has no API key; set one on the model's page.")
        configs[model["name"]] = llm_config_for(model, key)
    return configs


def _check_runnable(document: dict) -> None:
    """The crew rules the engine would otherwise be first to trip over (the studio checks them on save,
    but a crew can change, or an agent go away, before a run starts)."""
    crew = document["crew"]
    if crew["kind"] == "two_agent":
        pair = crew["two_agent"]
        if pair["initiator"] == pair["recipient"]:
            raise BridgeError("The initiator and the recipient must be two different agents.")
        return
    group = crew["group"]
    if len(group["members"]) < 2:
        raise BridgeError(f"A group chat needs at least two members (it has {len(group['members'])}).")
    if group["speaker_selection"] == "auto" and not group["manager_model"]:
        raise BridgeError("Automatic speaker selection needs a model for the chat manager.")


# ---- termination and tools --------------------------------------------------------------------------------


def termination_predicate(rule: Mapping[str, str]) -> Callable[[dict], bool] | None:
    """None for the engine's default (exact "TERMINATE"); else a predicate safe on None content."""
    kind, keyword = rule.get("rule", "default"), rule.get("keyword") or "TERMINATE"
    if kind == "default":
        return None

    def text(message: Any) -> str:
        content = message.get("content") if isinstance(message, dict) else message
        return content_str(content) if content is not None else ""

    if kind == "contains":
        return lambda message: keyword in text(message)
    if kind == "ends_with":
        return lambda message: text(message).rstrip().endswith(keyword)
    return lambda message: False


class SandboxTool:
    """A tool as the executing agent sees it: each call runs the tool's source in that agent's sandbox."""

    def __init__(self, spec: ToolSpec, runner: Callable[[], LegacyRunner]) -> None:
        self.spec = spec
        self._runner = runner
        self.__name__ = spec.name

    def __call__(self, **arguments: Any) -> str:
        marker = f"--- parley tool result {uuid.uuid4().hex} ---"
        script = tool_script(self.spec, json.dumps(arguments), marker)
        exit_code, logs = self._runner().run_code(script, lang="python")
        if exit_code != 0:
            raise RuntimeError(f"the tool {self.spec.name} failed in the sandbox (exit code {exit_code}): {logs.strip()[-2000:]}")
        _, found, result = logs.rpartition(marker + "\n")
        if not found:
            raise RuntimeError(f"the tool {self.spec.name} ended without returning a result")
        return result


# ---- code execution ---------------------------------------------------------------------------------------


def docker_problem(image: str) -> str | None:
    """None when a Docker engine answers and has the sandbox image; else why not, in words."""
    try:
        client = connect(timeout=5)
    except RuntimeError:
        return "no Docker engine answers"
    try:
        if not image_present(client, image):
            return f"the sandbox image {image} is not built"
        return None
    finally:
        client.close()


@dataclass
class BuiltConversation:
    conversation: Conversation
    agents: dict[str, Any]  # by name; a group's manager is included as "chat_manager"
    notices: list[str]
    work_dir: Path
    _tool_runners: dict[str, LegacyRunner] = field(default_factory=dict)
    _owns_work_dir: bool = False

    def close(self) -> None:
        """Stop tool sandboxes and code containers; remove the work dir once the chat is over. Idempotent."""
        for runner in self._tool_runners.values():
            runner.close()
        self._tool_runners.clear()
        for agent in self.agents.values():
            close = getattr(agent, "_close_runners", None)  # the engine's own per-agent cleanup
            if callable(close):
                close()
        if self._owns_work_dir and self.conversation.done:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> "BuiltConversation":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class _Builder:
    def __init__(self, document: dict, input_provider: Any, work_dir: Path, key_for: KeyLookup) -> None:
        self.document = document
        self.input_provider = input_provider
        self.work_dir = work_dir
        self.configs = _model_configs(document, key_for)
        self.notices: list[str] = []
        self.tool_runners: dict[str, LegacyRunner] = {}
        self.code_modes = self._decide_code_modes()

    def _decide_code_modes(self) -> dict[str, str]:
        modes = {a["name"]: a["code_execution"]["mode"] for a in self.document["agents"]}
        wanting = [a for a in self.document["agents"] if a["code_execution"]["mode"] == "docker"]
        if not wanting:
            return modes
        image = settings.PARLEY_SANDBOX_IMAGE
        problem = docker_problem(image)
        if problem is None:
            return modes
        strict = [a["name"] for a in wanting if not a["code_execution"]["local_fallback"]]
        if strict:
            raise BridgeError(f"{', '.join(strict)} run code in the Docker sandbox, but {problem}. Start Docker "
                              "(or build the image with workers/sandbox/build.sh), or switch the agent to local execution.")
        for agent in wanting:
            modes[agent["name"]] = "local"
        self.notices.append(f"The code sandbox is not available here ({problem}), so code from "
                            f"{', '.join(a['name'] for a in wanting)} runs with the local executor on the worker host.")
        return modes

    def code_config(self, agent: dict) -> dict | bool:
        mode = self.code_modes[agent["name"]]
        if mode == "off":
            return False
        return {"work_dir": str(self.work_dir / agent["name"]), "timeout": agent["code_execution"]["timeout"],
                "use_docker": settings.PARLEY_SANDBOX_IMAGE if mode == "docker" else False}

    def tool_runner(self, agent: dict) -> Callable[[], LegacyRunner]:
        def runner() -> LegacyRunner:
            if agent["name"] not in self.tool_runners:
                config = dict(self.code_config(agent))
                config["work_dir"] = str(self.work_dir / agent["name"] / "tools")
                self.tool_runners[agent["name"]] = LegacyRunner(config)
            return self.tool_runners[agent["name"]]

        return runner

    def agents(self, participants: list[dict]) -> dict[str, Any]:
        specs = {a["name"]: [parse_tool(t["source"]) for t in a["tools"]] for a in participants}
        built = {}
        for agent in participants:
            function_map = {}
            if self.code_modes[agent["name"]] != "off":
                for owner in participants:
                    if owner["name"] != agent["name"]:
                        for spec in specs[owner["name"]]:
                            function_map[spec.name] = SandboxTool(spec, self.tool_runner(agent))
            built[agent["name"]] = self.agent(agent, [s.schema() for s in specs[agent["name"]]], function_map)
        return built

    def agent(self, agent: dict, tools: list[dict], function_map: dict) -> Any:
        llm_config: Any = False
        if agent["model"] is not None:
            llm_config = dict(self.configs[agent["model"]], **({"tools": tools} if tools else {}))
        kwargs: dict[str, Any] = {
            "is_termination_msg": termination_predicate(agent["termination"]),
            "max_consecutive_auto_reply": agent["max_consecutive_auto_reply"],
            "human_input_mode": agent["human_input_mode"],
            "llm_config": llm_config,
            "code_execution_config": self.code_config(agent),
            "default_auto_reply": agent["default_auto_reply"],
            "function_map": function_map or None,
            "human_input_provider": self.input_provider,
        }
        # Blank texts keep the engine's defaults for the kind (e.g. the assistant's coding prompt).
        if agent["system_message"]:
            kwargs["system_message"] = agent["system_message"]
        if agent["description"]:
            kwargs["description"] = agent["description"]
        return AGENT_CLASSES[agent["kind"]](agent["name"], **kwargs)

    def manager(self, group: dict, members: list[Any]) -> Any:
        from workers.agents.groupchat import GroupChat, GroupChatManager

        graph = None
        if group["transitions"]:
            by_name = {m.name: m for m in members}
            graph = {by_name[s]: [by_name[t] for t in targets] for s, targets in group["transitions"].items()}
        chat = GroupChat(
            agents=members, messages=[], max_round=group["max_round"],
            speaker_selection_method=group["speaker_selection"],
            # The engine takes either a repeat rule or a graph; with a graph, self-edges allow repeats.
            allow_repeat_speaker=None if graph else group["allow_repeat_speaker"],
            allowed_or_disallowed_speaker_transitions=graph, speaker_transitions_type="allowed" if graph else None,
            send_introductions=group["send_introductions"],
        )
        manager_model = group["manager_model"]
        return GroupChatManager(
            chat, name=MANAGER_NAME, llm_config=self.configs[manager_model] if manager_model else False,
            is_termination_msg=termination_predicate(group["termination"]),
            human_input_provider=self.input_provider,
            silent=True,  # workers report through the sink, not the console
        )


def build_conversation(crew_snapshot: Mapping[str, Any] | str, *, sink: Callable[[dict], None] | None,
                       input_provider: Callable[[dict], str], snapshot: Mapping[str, Any] | str | None = None,
                       task: str | None = None, conversation_id: str | None = None,
                       work_dir: str | Path | None = None, key_for: KeyLookup | None = None) -> BuiltConversation:
    """Engine agents and a started (or, with `snapshot`, restored) Conversation for a crew document.

    `task` overrides the crew's default task message (neither → the engine asks the human first).
    `work_dir` is where code runs on this host; by default a folder per conversation under the
    system temp dir, removed by close() once the chat is over. `key_for(model_doc)` replaces the
    database key lookup (e.g. for documents that never lived in a workspace).
    """
    try:
        document = load_document(crew_snapshot)
    except ValidationError as exc:
        raise BridgeError("The crew cannot run: " + " ".join(exc.message_dict.get("document", exc.messages))) from None
    _check_runnable(document)
    if snapshot is not None and isinstance(snapshot, str):
        snapshot = json.loads(snapshot)
    conversation_id = (snapshot or {}).get("conversation_id") or conversation_id or uuid.uuid4().hex
    owns_work_dir = work_dir is None
    base = Path(work_dir) if work_dir is not None else Path(tempfile.gettempdir()) / "parley-work" / conversation_id
    builder = _Builder(document, input_provider, base, key_for or _keys_from_database(document))
    crew = document["crew"]
    agents_by_doc = {a["name"]: a for a in document["agents"]}
    if crew["kind"] == "two_agent":
        pair = crew["two_agent"]
        agents = builder.agents([agents_by_doc[pair["initiator"]], agents_by_doc[pair["recipient"]]])
        initiator, recipient, max_turns = agents[pair["initiator"]], agents[pair["recipient"]], pair["max_turns"]
    else:
        group = crew["group"]
        opener = group["initiator"] or group["members"][0]
        names = list(dict.fromkeys(group["members"] + [opener]))
        agents = builder.agents([agents_by_doc[name] for name in names])
        recipient = builder.manager(group, [agents[name] for name in group["members"]])
        initiator, max_turns = agents[opener], None
        agents[MANAGER_NAME] = recipient
    if snapshot is not None:
        conversation = Conversation.restore(agents, snapshot, sink=sink)
    else:
        message = task if task is not None else (crew["task"] or None)
        conversation = Conversation.start(initiator, recipient, message=message, max_turns=max_turns, sink=sink,
                                          silent=True, conversation_id=conversation_id)
        if sink is not None:
            for text in builder.notices:
                sink({"type": "notice", "conversation_id": conversation.id, "level": "warning", "text": text})
    return BuiltConversation(conversation=conversation, agents=agents, notices=builder.notices, work_dir=base,
                             _tool_runners=builder.tool_runners, _owns_work_dir=owns_work_dir)


# ---- the model page's Test button -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str


def probe_model(endpoint: Any) -> ProbeResult:
    """Send one tiny request through the engine's client; the answer or the provider's error in words."""
    from studio.crews.snapshots import model_doc
    from workers.agents.llm import LLMClient, LLMError

    if endpoint.needs_key and not endpoint.has_key:
        return ProbeResult(False, f"{endpoint.get_provider_display()} needs an API key; set one first.")
    config = llm_config_for(model_doc(endpoint), endpoint.reveal_key())
    entry = config["config_list"][0]
    entry.update(max_retries=0, timeout=20)
    if entry["api_type"] != "replay":
        entry["max_tokens"] = min(entry.get("max_tokens") or 16, 16)
    try:
        reply = LLMClient(config).create(messages=[{"role": "user", "content": "Reply with the single word: ok"}])
    except LLMError as exc:
        detail = exc.provider_message or str(exc)
        return ProbeResult(False, f"The model did not answer: {detail}")
    except ValueError as exc:  # a configuration the engine refuses
        return ProbeResult(False, f"The model's settings are not usable: {exc}")
    text = (reply.message.get("content") or "").strip()
    return ProbeResult(True, f"{endpoint.name} answered ({reply.model}): {text[:200] or '(an empty reply)'}")
