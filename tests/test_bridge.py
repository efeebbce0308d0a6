"""Acceptance: a crew built in the studio converts to a runnable engine conversation, the same
mapping the workers use (workers/bridge.py), tested without the browser: crews are made through
the studio's services, exported, built and run against the fake LLM server and the Replay model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.crews import services
from studio.crews.gallery import load_gallery
from studio.crews.models import Crew, GalleryCrew
from studio.crews.snapshots import export_crew
from tests.factories import UserFactory
from tests.studio.crews_support import ADD_TOOL, SECRET, make_agent, make_model, replay_model, workspace_of
from workers.agents import EventLog, ScriptedInput, SuspendingInput
from workers.bridge import BridgeError, build_conversation, probe_model, termination_predicate

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")

NO_DOCKER = "unix:///nonexistent/parley-test-docker.sock"


def transcript(log: EventLog) -> list[tuple[str, object]]:
    return [(e["sender"], e["message"].get("content")) for e in log.of_type("message")]


def run(crew: Crew, tmp_path: Path, **kwargs) -> tuple[EventLog, object]:
    log = EventLog()
    kwargs.setdefault("input_provider", SuspendingInput())
    with build_conversation(export_crew(crew), sink=log, work_dir=tmp_path, **kwargs) as built:
        built.conversation.run()
    return log, built


def test_two_agent_crew_on_openai(alice, fake_llm, tmp_path):
    ws = workspace_of(alice)
    model = make_model(ws, alice, name="GPT", base_url=fake_llm.openai_base_url, temperature=0.2, max_tokens=100,
                       price_prompt_per_million=2, price_completion_per_million=8)
    writer = make_agent(ws, alice, name="writer", model=model, system_message="You write greetings.")
    boss = make_agent(ws, alice, name="boss", kind="user_proxy", human_input_mode="NEVER",
                      termination_rule="ends_with", termination_keyword="TERMINATE")
    crew = services.create_crew(ws, user=alice, name="Greeting", kind="two_agent", initiator=boss,
                                recipient=writer, task="Say hello to the team.")
    fake_llm.reply("Hello, team. TERMINATE")

    log, _ = run(crew, tmp_path)

    assert transcript(log) == [("boss", "Say hello to the team."), ("writer", "Hello, team. TERMINATE")]
    assert log.of_type("finished")[0]["code"] == "termination"
    request = fake_llm.requests[0]
    assert request.api_key == SECRET and request.body["temperature"] == 0.2 and request.body["max_tokens"] == 100
    assert request.messages[0] == {"role": "system", "content": "You write greetings."}
    usage = log.of_type("usage")[0]
    expected = (usage["prompt_tokens"] * 2 + usage["completion_tokens"] * 8) / 1_000_000
    assert usage["cost"] == pytest.approx(expected) and usage["cost"] > 0
    assert SECRET not in json.dumps(list(log))


def test_group_crew_on_anthropic_round_robin(alice, fake_llm, tmp_path):
    ws = workspace_of(alice)
    model = make_model(ws, alice, name="Claude", provider="anthropic", model="claude-test",
                       base_url=fake_llm.anthropic_base_url)
    members = [make_agent(ws, alice, name=n, model=model, system_message=f"You are {n.upper()}.")
               for n in ("ann", "ben", "cat")]
    crew = services.create_crew(ws, user=alice, name="Circle", kind="group", members=members, max_round=4,
                                speaker_selection="round_robin", task="Introduce yourselves.")

    def answer(request) -> str:
        system = request.system if isinstance(request.system, str) else " ".join(b["text"] for b in request.system)
        return system.split("You are ")[1].rstrip(".").lower() + " here"

    fake_llm.reply(answer, api="anthropic")
    log, built = run(crew, tmp_path)

    assert transcript(log) == [("ann", "Introduce yourselves."), ("ben", "ben here"), ("cat", "cat here"),
                               ("ann", "ann here")]
    assert "max" in log.of_type("finished")[0]["reason"].lower()
    assert {r.api_key for r in fake_llm.requests} == {SECRET} and len(fake_llm.requests) == 3
    assert set(built.agents) == {"ann", "ben", "cat", "chat_manager"}


def test_replay_model_with_tools_run_in_the_code_runner(alice, tmp_path):
    ws = workspace_of(alice)
    boom = 'def boom(reason: str) -> str:\n    """Always fails."""\n    raise ValueError(reason)\n'
    model = replay_model(ws, alice, replies=[
        {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 40}}]},
        {"tool_calls": [{"name": "boom", "arguments": {"reason": "on purpose"}}]},
        "The sum is 42 and boom failed as expected. TERMINATE",
    ])
    calc = make_agent(ws, alice, name="calc", model=model, tools=[ADD_TOOL, boom])
    runner = make_agent(ws, alice, name="runner", kind="user_proxy", human_input_mode="NEVER", code_execution="local",
                        termination_rule="ends_with", termination_keyword="TERMINATE")
    crew = services.create_crew(ws, user=alice, name="Calc", kind="two_agent", initiator=runner, recipient=calc,
                                task="Add 2 and 40.")
    log, built = run(crew, tmp_path)

    messages = [e["message"] for e in log.of_type("message")]
    assert [m.get("content") for m in messages][0::2] == ["Add 2 and 40.", "42", messages[4]["content"]]
    assert messages[1]["tool_calls"][0]["function"]["name"] == "add"
    assert messages[2]["tool_responses"][0]["content"] == "42"
    failure = messages[4]["content"]
    assert failure.startswith("Error: the tool boom failed in the sandbox (exit code 1)") and "ValueError: on purpose" in failure
    assert messages[5]["content"].endswith("TERMINATE") and len(messages) == 6
    # The schema offered to the model came from the source text.
    assert [t["function"]["name"] for t in built.agents["calc"].llm_config["tools"]] == ["add", "boom"]
    assert "add" in built.agents["runner"].function_map and "add" not in built.agents["calc"].function_map


def test_suspend_and_restore_gives_the_same_transcript(alice, tmp_path):
    ws = workspace_of(alice)
    model = replay_model(ws, alice, replies=["one", "two", "three"])
    writer = make_agent(ws, alice, name="writer", model=model, system_message="You count.")
    boss = make_agent(ws, alice, name="boss", kind="user_proxy", human_input_mode="ALWAYS")
    crew = services.create_crew(ws, user=alice, name="Chat", kind="two_agent", initiator=boss, recipient=writer,
                                task="start")
    uninterrupted, _ = run(crew, tmp_path / "a", input_provider=ScriptedInput(["more", "exit"]))

    document, log, state, answers = export_crew(crew), EventLog(), None, iter(["more", "exit"])
    while True:  # one worker task per loop: build, (answer), step until it waits or ends, store the state
        with build_conversation(document, sink=log, input_provider=SuspendingInput(), snapshot=state,
                                work_dir=tmp_path / "b") as built:
            if state is not None:
                built.conversation.answer(next(answers))
            while built.conversation.step():
                pass
            if built.conversation.done:
                break
            state = json.loads(json.dumps(built.conversation.snapshot()))  # what a worker would store
    assert transcript(log) == transcript(uninterrupted) == [("boss", "start"), ("writer", "one"), ("boss", "more"),
                                                             ("writer", "two")]
    assert [e["request"]["kind"] for e in log.of_type("human_input_needed")] == ["always", "always"]


def test_manual_selection_asks_through_the_input_provider(alice, tmp_path):
    ws = workspace_of(alice)
    human = make_agent(ws, alice, name="human", kind="user_proxy", human_input_mode="TERMINATE")
    ann = make_agent(ws, alice, name="ann", model=replay_model(ws, alice, name="A", replies=["I am ann"]),
                     system_message="You are ann.")
    ben = make_agent(ws, alice, name="ben", model=replay_model(ws, alice, name="B", replies=["I am ben"]),
                     system_message="You are ben.")
    crew = services.create_crew(ws, user=alice, name="Manual", kind="group", members=[human, ann, ben], max_round=3,
                                speaker_selection="manual", task="Who speaks?")
    person = ScriptedInput(["3", "2"])
    log, _ = run(crew, tmp_path, input_provider=person)
    assert transcript(log) == [("human", "Who speaks?"), ("ben", "I am ben"), ("ann", "I am ann")]
    assert [r["kind"] for r in person.requests] == ["manual_selection", "manual_selection"]
    assert person.requests[0]["choices"] == ["human", "ann", "ben"]


def test_demo_crew_runs_without_docker_and_says_so(alice, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    load_gallery()
    demo = GalleryCrew.objects.get(slug="demo-no-api-key").crew
    log = EventLog()
    with build_conversation(export_crew(demo), sink=log, input_provider=SuspendingInput()) as built:
        result = built.conversation.run()
        work_dir = built.work_dir
        assert work_dir.is_dir()
    assert not work_dir.exists()  # removed once the chat was over
    notice = [e for e in log if e["type"] == "notice"]  # the bridge's own event, beside the engine's
    assert len(notice) == 1 and "local executor" in notice[0]["text"] and "no Docker engine answers" in notice[0]["text"]
    assert built.notices == [notice[0]["text"]]
    speakers = [sender for sender, _ in transcript(log)]
    assert speakers == ["runner", "coder", "runner", "coder"]
    code = log.of_type("code_output")[0]
    assert code["exit_code"] == 0 and "count: 15" in code["output"] and "sum: 328" in code["output"]
    assert transcript(log)[3][1].endswith("TERMINATE") and "328" in result.summary
    assert log.of_type("finished")[0]["code"] == "termination"


def test_run_time_refusals_come_before_the_engine(alice, tmp_path, monkeypatch):
    load_gallery()
    coder = GalleryCrew.objects.get(slug="two-agent-coder").crew
    assert services.run_problems(coder) == ["The model “GPT-4o mini” has no API key; set one on the model's page."]
    with pytest.raises(BridgeError, match="The model “GPT-4o mini” has no API key"):
        build_conversation(export_crew(coder), sink=None, input_provider=SuspendingInput(), work_dir=tmp_path)

    # Crews that lost an agent since they were saved.
    ws = workspace_of(alice)
    model = replay_model(ws, alice, name="R")
    a, b, c = (make_agent(ws, alice, name=n, model=model, system_message="Hi.") for n in ("a", "b", "c"))
    group = services.create_crew(ws, user=alice, name="G", kind="group", members=[a, b],
                                 speaker_selection="round_robin")
    pair = services.create_crew(ws, user=alice, name="P", kind="two_agent", initiator=a, recipient=c)
    services.delete_agent(a, user=alice)
    for crew in (group, pair):
        crew.refresh_from_db()
    assert services.run_problems(group) == ["A group chat needs at least two members (it has 1)."]
    with pytest.raises(BridgeError, match=r"needs at least two members \(it has 1\)"):
        build_conversation(export_crew(group), sink=None, input_provider=SuspendingInput(), work_dir=tmp_path)
    assert services.run_problems(pair) == ["Choose the agent that starts the chat."]
    with pytest.raises(BridgeError, match="The crew cannot run: crew two_agent: “initiator” is missing."):
        build_conversation(export_crew(pair), sink=None, input_provider=SuspendingInput(), work_dir=tmp_path)

    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    ws = workspace_of(alice)
    strict = make_agent(ws, alice, name="strict", kind="user_proxy", human_input_mode="NEVER", code_execution="docker")
    other = make_agent(ws, alice, name="other", model=replay_model(ws, alice))
    crew = services.create_crew(ws, user=alice, name="Strict", kind="two_agent", initiator=strict, recipient=other)
    with pytest.raises(BridgeError, match="strict run code in the Docker sandbox, but no Docker engine answers"):
        build_conversation(export_crew(crew), sink=None, input_provider=SuspendingInput(), work_dir=tmp_path)


def test_probe_model_reports_the_answer_or_the_providers_error(alice, fake_llm):
    ws = workspace_of(alice)
    model = make_model(ws, alice, name="GPT", base_url=fake_llm.openai_base_url)
    fake_llm.reply("ok")
    assert probe_model(model).ok and "answered" in probe_model(model).message
    assert fake_llm.last_request.api_key == SECRET and fake_llm.last_request.body["max_tokens"] == 16
    fake_llm.reset()
    fake_llm.fail(401, message="Incorrect API key provided")
    result = services.test_model(model)
    assert not result.ok and "Incorrect API key provided" in result.message
    assert probe_model(replay_model(ws, alice, replies=["fine"])).message.endswith(": fine")


@pytest.mark.parametrize("rule, text, expected", [
    ({"rule": "contains", "keyword": "DONE"}, "we are DONE here", True),
    ({"rule": "contains", "keyword": "DONE"}, None, False),
    ({"rule": "ends_with", "keyword": "TERMINATE"}, "ok TERMINATE  ", True),
    ({"rule": "ends_with", "keyword": "TERMINATE"}, "TERMINATE now", False),
    ({"rule": "none", "keyword": "TERMINATE"}, "TERMINATE", False),
])
def test_termination_predicates_are_none_safe(rule, text, expected):
    assert termination_predicate(rule)({"content": text}) is expected
    assert termination_predicate({"rule": "default", "keyword": "x"}) is None  # the engine's exact default


def test_the_documented_example_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)  # its runner allows the local fallback
    text = (Path(__file__).resolve().parents[1] / "docs" / "crew-format.md").read_text()
    example = text.split("## Example\n\n```json\n", 1)[1].split("\n```", 1)[0]
    log = EventLog()
    with build_conversation(example, sink=log, input_provider=SuspendingInput(), work_dir=tmp_path,
                            key_for=lambda model: None) as built:
        built.conversation.run()
    assert log.of_type("code_output")[0]["output"].strip() == "[2, 3, 5, 7, 11, 13, 17, 19]"
    assert transcript(log)[-1] == ("coder", "Those are the primes. TERMINATE")
