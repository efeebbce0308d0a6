"""Importing an AutoGen Studio 0.4 team (its component JSON: provider, component_type, config).

The team becomes a Parley crew document, which `exchange.import_crew` then creates. What maps:
RoundRobinGroupChat / SelectorGroupChat, AssistantAgent, UserProxyAgent, CodeExecutorAgent, the
OpenAI and Anthropic model clients, TextMentionTermination, MaxMessageTermination and their
Or/And combinations. Everything else is listed, in words, in the result's `dropped`.

AgentChat teams receive their task from an outside "user"; Parley crews need an agent that sends
it, so the import adds one (a silent user proxy that is not a member), which also keeps the
first speaker of a round robin the same as in AutoGen Studio. A one-agent team becomes a
two-agent chat between that user and the agent.
"""

from __future__ import annotations

import ast
import math
from typing import Any

from studio.accounts.models import User, Workspace
from studio.crews.exchange import ImportResult, document_error, import_crew, parse_json
from studio.crews.snapshots import CREW_FORMAT, FORMAT_VERSION
from studio.crews.toolspec import ToolSourceError, parse_tool

TEAMS = {"RoundRobinGroupChat": "round_robin", "SelectorGroupChat": "auto"}
MODEL_CLIENTS = {"OpenAIChatCompletionClient": "openai", "AnthropicChatCompletionClient": "anthropic"}
# Settings that change nothing Parley can express, so their loss is not worth a line.
IGNORED_AGENT_KEYS = {"name", "description", "model_client_stream", "tool_call_summary_format", "model_context",
                      "system_message", "model_client", "tools"}
TASK_SENDER = "user"
DEFAULT_MAX_ROUND = 20


def _kind(component: Any) -> str:
    """The class name of a component's provider ("autogen_agentchat.teams.X" → "X")."""
    provider = component.get("provider") if isinstance(component, dict) else None
    return provider.rsplit(".", 1)[-1] if isinstance(provider, str) and provider else ""


def _config(component: dict) -> dict:
    config = component.get("config")
    return config if isinstance(config, dict) else {}


class _Mapper:
    def __init__(self) -> None:
        self.dropped: list[str] = []
        self.notes: list[str] = []
        self.models: list[dict[str, Any]] = []

    # ---- models ---------------------------------------------------------------------------------
    def model(self, component: Any, owner: str) -> str | None:
        """The name of the Parley model for a model-client component (None when it cannot map)."""
        if component is None:
            return None
        kind = _kind(component)
        provider = MODEL_CLIENTS.get(kind)
        config = _config(component) if isinstance(component, dict) else {}
        if provider is None:
            self.dropped.append(f"the model client of {owner} ({kind or 'unknown type'}): Parley connects to OpenAI, "
                                "Anthropic and OpenAI-compatible servers; pick a model on the agent's page.")
            return None
        model_id = config.get("model")
        if not isinstance(model_id, str) or not model_id.strip():
            self.dropped.append(f"the model client of {owner}: it names no model.")
            return None
        base_url = config.get("base_url") if isinstance(config.get("base_url"), str) else None
        if provider == "openai" and base_url and "api.openai.com" not in base_url:
            provider = "openai_compatible"
        temperature = config.get("temperature")
        if temperature is not None and (not isinstance(temperature, (int, float)) or not 0 <= temperature <= 1):
            self.dropped.append(f"the temperature {temperature!r} of {owner}'s model: Parley takes 0 to 1.")
            temperature = None
        max_tokens = config.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            max_tokens = None
        if config.get("api_key"):
            self.dropped.append(f"the API key in {owner}'s model client: keys are never read from files; "
                                "set it on the model's page.")
        doc = {"provider": provider, "model": model_id.strip(), "base_url": base_url, "temperature": temperature,
               "max_tokens": max_tokens, "price": None, "replay_script": None}
        for existing in self.models:
            if {k: v for k, v in existing.items() if k != "name"} == doc:
                return existing["name"]
        names = {m["name"] for m in self.models}
        name, n = doc["model"], 2
        while name in names:
            name, n = f"{doc['model']} ({n})", n + 1
        self.models.append({"name": name, **doc})
        return name

    # ---- tools ----------------------------------------------------------------------------------
    def tool(self, component: Any, owner: str) -> str | None:
        if _kind(component) != "FunctionTool":
            self.dropped.append(f"tool {_config(component).get('name') or _kind(component) or '?'} of {owner}: "
                                "only Python function tools can be imported.")
            return None
        config = _config(component)
        source = config.get("source_code")
        if not isinstance(source, str) or not source.strip():
            self.dropped.append(f"a tool of {owner}: it has no source code.")
            return None
        source = _with_docstring(source, config.get("description"))
        imports = [_import_line(item) for item in config.get("global_imports") or []]
        source = "\n".join([line for line in imports if line] + ([""] if any(imports) else []) + [source])
        try:
            parse_tool(source)
        except ToolSourceError as exc:
            self.dropped.append(f"tool {config.get('name') or '?'} of {owner}: {exc}.")
            return None
        return source

    # ---- agents ---------------------------------------------------------------------------------
    def agent(self, component: Any) -> dict[str, Any] | None:
        kind = _kind(component)
        config = _config(component) if isinstance(component, dict) else {}
        name = config.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            self.dropped.append(f"an agent ({kind or 'unknown type'}) without a valid name.")
            return None
        base = {"name": name, "description": config.get("description") or "", "system_message": "", "model": None,
                "max_consecutive_auto_reply": None, "termination": {"rule": "default", "keyword": "TERMINATE"},
                "default_auto_reply": "", "code_execution": {"mode": "off", "timeout": 60, "local_fallback": False},
                "tools": []}
        if kind == "AssistantAgent":
            tools = [self.tool(t, name) for t in config.get("tools") or []]
            model = self.model(config.get("model_client"), name)
            tools = [t for t in tools if t]
            if tools and model is None:
                self.dropped.append(f"the tools of {name}: without a model nothing could call them.")
                tools = []
            self._leftovers(name, config, {"handoffs", "reflect_on_tool_use", "memory", "workbench",
                                           "max_tool_iterations", "output_content_type"})
            context = config.get("model_context")
            if context and _kind(context) not in ("", "UnboundedChatCompletionContext"):
                self.dropped.append(f"the model context of {name} ({_kind(context)}): Parley sends the whole conversation.")
            return {**base, "kind": "assistant", "system_message": config.get("system_message") or "",
                    "model": model, "human_input_mode": "NEVER", "tools": [{"source": t} for t in tools]}
        if kind == "UserProxyAgent":
            return {**base, "kind": "user_proxy", "human_input_mode": "ALWAYS"}
        if kind == "CodeExecutorAgent":
            executor = config.get("code_executor")
            mode = "local" if _kind(executor) == "LocalCommandLineCodeExecutor" else "docker"
            timeout = _config(executor).get("timeout") if isinstance(executor, dict) else None
            timeout = timeout if isinstance(timeout, int) and 1 <= timeout <= 3600 else 60
            return {**base, "kind": "user_proxy", "human_input_mode": "NEVER",
                    "code_execution": {"mode": mode, "timeout": timeout, "local_fallback": False}}
        self.dropped.append(f"agent {name} ({kind or 'unknown type'}): Parley has assistants, user proxies and "
                            "code executors only.")
        return None

    def _leftovers(self, name: str, config: dict, known: set[str]) -> None:
        for key in sorted(known):
            value = config.get(key)
            default = 1 if key == "max_tool_iterations" else None
            if value not in (None, False, [], {}, "") and value != default:
                self.dropped.append(f"the {key.replace('_', ' ')} setting of {name}.")

    # ---- termination ----------------------------------------------------------------------------
    def termination(self, component: Any, keywords: list[str], limits: list[int], under_and: bool = False) -> None:
        if component is None:
            return
        kind = _kind(component)
        config = _config(component)
        if kind in ("OrTerminationCondition", "AndTerminationCondition"):
            if kind == "AndTerminationCondition" and not under_and:
                self.dropped.append("the AND in AndTerminationCondition: a Parley chat stops as soon as any of "
                                    "its conditions holds.")
            for part in config.get("conditions") or []:
                self.termination(part, keywords, limits, under_and or kind == "AndTerminationCondition")
        elif kind == "TextMentionTermination" and isinstance(config.get("text"), str) and config["text"].strip():
            keywords.append(config["text"].strip())
            if config.get("sources"):
                self.dropped.append(f"the sources of the “{config['text']}” mention: any agent's message counts.")
        elif kind == "MaxMessageTermination" and isinstance(config.get("max_messages"), int) and config["max_messages"] > 0:
            limits.append(config["max_messages"])
        else:
            self.dropped.append(f"the termination condition {kind or 'of unknown type'}: Parley stops on a keyword or "
                                "a number of messages.")


def _free_name(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def _with_docstring(source: str, description: Any) -> str:
    """The tool source with `description` as its function's docstring when it has none."""
    if not isinstance(description, str) or not description.strip():
        return source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    if len(functions) != 1 or ast.get_docstring(functions[0]) or not functions[0].body:
        return source
    first = functions[0].body[0]
    lines = source.splitlines()
    indent = lines[first.lineno - 1][: first.col_offset]
    text = description.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines.insert(first.lineno - 1, f'{indent}"""{text}"""')
    return "\n".join(lines) + "\n"


def _import_line(item: Any) -> str:
    if isinstance(item, str) and item.replace(".", "").replace("_", "").isalnum():
        return f"import {item}"
    if isinstance(item, dict) and isinstance(item.get("module"), str):
        names = [n for n in item.get("imports") or [] if isinstance(n, str)]
        return f"from {item['module']} import {', '.join(names)}" if names else f"import {item['module']}"
    return ""


def team_document(raw: Any) -> tuple[dict[str, Any], list[str], list[str]]:
    """(a Parley crew document, what could not be mapped, other notes) for an AutoGen Studio team."""
    if not isinstance(raw, dict) or "provider" not in raw or "component_type" not in raw:
        raise document_error("This is not an AutoGen Studio component (it needs “provider”, “component_type” and “config”).")
    if raw.get("component_type") != "team":
        raise document_error(f"This AutoGen Studio component is a {raw.get('component_type')!r}; Parley imports teams.")
    team_kind = _kind(raw)
    if team_kind not in TEAMS:
        raise document_error(f"Unknown team type {raw.get('provider')!r}; Parley imports RoundRobinGroupChat and "
                             "SelectorGroupChat teams.")
    config = _config(raw)
    mapper = _Mapper()
    agents = [a for a in (mapper.agent(p) for p in config.get("participants") or []) if a is not None]
    if not agents:
        raise document_error("The team has no participant Parley can import.")
    keywords: list[str] = []
    limits: list[int] = []
    mapper.termination(config.get("termination_condition"), keywords, limits)
    if len(keywords) > 1:
        mapper.dropped.append(f"the extra stop words {', '.join(keywords[1:])}: Parley stops on one keyword "
                              f"(kept “{keywords[0]}”).")
    if isinstance(config.get("max_turns"), int) and config["max_turns"] > 0:
        limits.append(config["max_turns"] + 1)  # Parley counts the task message too
    termination = {"rule": "contains", "keyword": keywords[0]} if keywords else {"rule": "none", "keyword": "TERMINATE"}
    sender = _free_name(TASK_SENDER, {a["name"] for a in agents})
    user = {"name": sender, "kind": "user_proxy", "description": "Sends the task.", "system_message": "",
            "model": None, "human_input_mode": "NEVER", "max_consecutive_auto_reply": None,
            "termination": {"rule": "default", "keyword": "TERMINATE"}, "default_auto_reply": "Please continue.",
            "code_execution": {"mode": "off", "timeout": 60, "local_fallback": False}, "tools": []}
    crew: dict[str, Any] = {"name": str(raw.get("label") or config.get("name") or team_kind)[:150],
                            "description": str(raw.get("description") or "").strip(), "tags": ["autogen-studio"],
                            "task": "", "two_agent": None, "group": None}
    # AgentChat agents run their own tools; in Parley another agent runs them in its code sandbox.
    needs_runner = any(a["tools"] for a in agents) and not any(a["code_execution"]["mode"] != "off" for a in agents)
    if len(agents) == 1:
        user["termination"] = termination
        if needs_runner:
            user["code_execution"] = {"mode": "docker", "timeout": 60, "local_fallback": False}
            mapper.notes.append(f"{sender} runs the tools of {agents[0]['name']} in the code sandbox.")
        max_turns = max(1, math.ceil((min(limits) - 1) / 2)) if limits else None
        crew.update(kind="two_agent", two_agent={"initiator": sender, "recipient": agents[0]["name"], "max_turns": max_turns})
        mapper.notes.append(f"The one-agent team became a two-agent chat: {sender} sends the task to "
                            f"{agents[0]['name']}.")
    else:
        if needs_runner:
            runner = _free_name("tool_runner", {a["name"] for a in agents} | {sender})
            agents.append({**user, "name": runner, "description": "Runs the tools the other agents call.",
                           "default_auto_reply": "", "code_execution": {"mode": "docker", "timeout": 60,
                                                                        "local_fallback": False}})
            mapper.notes.append(f"Added {runner} to the group: it runs the agents' tools in the code sandbox.")
        manager_model = None
        if team_kind == "SelectorGroupChat":
            manager_model = mapper.model(config.get("model_client"), "the selector")
            if config.get("selector_prompt"):
                mapper.dropped.append("the selector prompt: Parley's chat manager uses its own.")
        if not limits:
            mapper.notes.append(f"The team had no message limit; Parley set max rounds to {DEFAULT_MAX_ROUND}.")
        repeat = config.get("allow_repeated_speaker")
        crew.update(kind="group", group={
            "members": [a["name"] for a in agents], "initiator": sender,
            "max_round": min(limits) if limits else DEFAULT_MAX_ROUND,
            "speaker_selection": TEAMS[team_kind] if (team_kind != "SelectorGroupChat" or manager_model) else "round_robin",
            "allow_repeat_speaker": bool(repeat) if team_kind == "SelectorGroupChat" else True,
            "send_introductions": False, "manager_model": manager_model, "termination": termination,
            "transitions": None})
        if team_kind == "SelectorGroupChat" and manager_model is None:
            mapper.dropped.append("model-based speaker selection: the selector has no usable model, so members "
                                  "take turns (round robin).")
    document = {"format": CREW_FORMAT, "version": FORMAT_VERSION, "crew": crew, "agents": agents + [user],
                "models": mapper.models}
    return document, mapper.dropped, mapper.notes


def import_autogen_studio(workspace: Workspace, *, user: User | None, data: Any) -> ImportResult:
    """Import an AutoGen Studio team JSON (bytes, text or dict); `result.dropped` lists what did not map."""
    document, dropped, notes = team_document(parse_json(data))
    return import_crew(workspace, user=user, data=document, dropped=dropped, notes=notes)
