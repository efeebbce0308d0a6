"""The worker's step loop against real components: the fake LLM server, Replay models, the
database. Runs are executed by workers.runloop.execute, the code start_run/continue_run call."""

from __future__ import annotations

import pytest

from studio.runs import services
from studio.runs.models import Message, MessageKind, Run, RunStatus
from tests.runs.support import counting_reply, execute_here, fake_llm_crew, transcript, workspace_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_run_completes_with_every_turn_persisted_in_order(alice, fake_llm, queued):
    fake_llm.reply(counting_reply)
    crew = fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=2)
    run = services.start_run(crew, user=alice)
    assert run.status == RunStatus.QUEUED and run.crew_snapshot["crew"]["name"] == "Counter"

    assert execute_here(run) == RunStatus.COMPLETED

    run.refresh_from_db()
    rows = transcript(run)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1)) == list(range(1, run.last_seq + 1))
    assert [(r[2], r[3]) for r in rows] == [
        ("counter_boss", "Count with me."),
        ("counter", "reply to 2 messages"),
        ("counter_boss", "go on"),
        ("counter", "reply to 4 messages"),
        ("counter_boss", "go on"),
        ("counter", "reply to 6 messages"),
    ]
    assert run.status == RunStatus.COMPLETED and run.finished_at and run.lease is None and run.claims == 1
    replies = Message.objects.filter(run=run, sender="counter")
    assert all(m.completion_tokens == 4 and m.prompt_tokens > 0 and m.latency_ms > 0 for m in replies)
    assert run.completion_tokens == 12 and run.usage_by_agent["counter"]["calls"] == 3
    assert queued() == [("workers.tasks.start_run", [str(run.public_id)])]


def test_a_person_answers_twice_then_ends_and_the_transcript_equals_an_uninterrupted_run(alice, queued):
    from studio.crews.snapshots import export_crew
    from studio.runs.models import HumanInputRequest, InputMode, PromptKind
    from tests.runs.support import human_crew
    from workers.agents import EventLog, ScriptedInput
    from workers.bridge import build_conversation

    crew = human_crew(workspace_of(alice), alice)
    run = services.start_run(crew, user=alice)

    assert execute_here(run) == RunStatus.AWAITING_INPUT
    run.refresh_from_db()
    question = services.open_request(run)
    assert (question.agent, question.sender, question.mode, question.prompt_kind) == ("me", "helper", InputMode.ALWAYS,
                                                                                      PromptKind.ALWAYS)
    assert question.allowed_actions == ["reply", "continue", "end"] and question.after_seq == run.last_seq == 2
    assert run.lease is None and "helper" in question.prompt

    for action, text in (("reply", "Bring sandwiches."), ("continue", ""), ("end", "")):
        result = services.reply_to_request(question, user=alice, action=action, text=text)
        assert result.accepted, result.message
        assert Run.objects.get(pk=run.pk).status == RunStatus.QUEUED
        expected = execute_here(run)
        run.refresh_from_db()
        question = services.open_request(run)
        assert expected == (RunStatus.COMPLETED if action == "end" else RunStatus.AWAITING_INPUT)

    assert run.status == RunStatus.COMPLETED and run.claims == 4
    assert [t for t, _ in queued()] == ["workers.tasks.start_run"] + ["workers.tasks.continue_run"] * 3
    answered = list(HumanInputRequest.objects.filter(run=run).values_list("action", "reply", "replied_by", "status"))
    assert answered == [("reply", "Bring sandwiches.", alice.pk, "answered"), ("continue", "", alice.pk, "answered"),
                        ("end", "exit", alice.pk, "answered")]
    human = Message.objects.get(run=run, from_human=True)
    assert (human.sender, human.content, human.author_id) == ("me", "Bring sandwiches.", alice.pk)

    # The same crew run in one go by the engine, answering from a script.
    log = EventLog()
    with build_conversation(export_crew(crew), sink=log, input_provider=ScriptedInput(["Bring sandwiches.", "", "exit"]),
                            task=run.task) as built:
        built.conversation.run()
    uninterrupted = [(e["sender"], e["message"]["content"]) for e in log.of_type("message")]
    assert [(sender, content) for _, _, sender, content in transcript(run)] == uninterrupted
    assert uninterrupted[2:] == [("me", "Bring sandwiches."), ("helper", "Idea two."), ("me", "carry on"),
                                 ("helper", "Idea three.")]


def test_a_second_reply_is_refused_and_names_who_answered(alice, bob):
    from tests.factories import WorkspaceFactory, add_member
    from tests.runs.support import human_crew

    team = WorkspaceFactory()
    add_member(team, alice, "owner")
    add_member(team, bob, "runner")
    run = services.start_run(human_crew(team, alice), user=alice)
    execute_here(run)
    question = services.open_request(Run.objects.get(pk=run.pk))

    assert services.reply_to_request(question, user=bob, action="reply", text="Mine.").accepted
    late = services.reply_to_request(question, user=alice, action="reply", text="No, mine.")
    assert (late.accepted, late.message, late.answered_by) == (False, "Already answered by bob.", "bob")


def test_invalid_answers_are_refused_with_reasons(alice):
    from django.core.exceptions import ValidationError

    from tests.runs.support import human_crew

    run = services.start_run(human_crew(workspace_of(alice), alice), user=alice)
    execute_here(run)
    question = services.open_request(Run.objects.get(pk=run.pk))
    for action, text, choice, field in (("reply", "  ", None, "answer"), ("reply", "a\x00b", None, "answer"),
                                        ("choose", "", "helper", "action"),
                                        ("shout", "", None, "action")):
        with pytest.raises(ValidationError) as refused:
            services.reply_to_request(question, user=alice, action=action, text=text, choice=choice)
        assert field in refused.value.message_dict
    assert Run.objects.get(pk=run.pk).status == RunStatus.AWAITING_INPUT


def test_cancelling_a_waiting_run_ends_it_and_closes_its_question(alice):
    from studio.runs.models import RequestStatus
    from tests.runs.support import human_crew

    run = services.start_run(human_crew(workspace_of(alice), alice), user=alice)
    execute_here(run)
    question = services.open_request(Run.objects.get(pk=run.pk))

    assert services.cancel_run(run, user=alice)
    run.refresh_from_db()
    assert (run.status, run.cancelled_by, run.last_seq) == (RunStatus.CANCELLED, alice, 2) and run.finished_at
    question.refresh_from_db()
    assert question.status == RequestStatus.CANCELLED
    late = services.reply_to_request(question, user=alice, action="continue")
    assert not late.accepted and "cancelled" in late.message
    assert execute_here(run) == "not claimed"  # a stale continuation finds nothing to do
    assert not services.cancel_run(run, user=alice)


def test_cancelling_a_running_run_stops_it_at_the_next_turn_and_keeps_the_transcript(alice, fake_llm):
    from tests.runs.support import Background, wait_until

    fake_llm.add_rule(text=counting_reply, delay=0.3)
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=10), user=alice)
    worker = Background(run)
    wait_until(lambda: Run.objects.get(pk=run.pk).last_seq >= 2, what="two saved messages")

    assert services.cancel_run(run, user=alice)
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING  # the worker finishes its turn first
    assert worker.join() == RunStatus.CANCELLED

    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.lease is None and run.finished_at
    assert 2 <= run.last_seq < 22 and [r[0] for r in transcript(run)] == list(range(1, run.last_seq + 1))


def test_llm_errors_fail_the_run_with_the_providers_message(alice, fake_llm):
    fake_llm.fail(401, message="Incorrect API key provided: sk-te****.")
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm), user=alice)

    assert execute_here(run) == RunStatus.FAILED
    run.refresh_from_db()
    assert run.error == "The model did not answer: Incorrect API key provided: sk-te****."
    # The opening message was saved; the failed step left nothing half-written.
    assert transcript(run) == [(1, "text", "counter_boss", "Count with me.")]
    assert run.status == RunStatus.FAILED and run.finished_at and run.lease is None


def test_a_crew_that_cannot_be_built_fails_with_the_reason(alice, fake_llm):
    crew = fake_llm_crew(workspace_of(alice), alice, fake_llm)
    run = services.start_run(crew, user=alice)
    model = crew.recipient.model
    model.clear_key()
    model.save()

    assert execute_here(run) == RunStatus.FAILED
    assert "has no API key" in Run.objects.get(pk=run.pk).error


def test_runs_that_cannot_start_say_why(alice, fake_llm):
    from django.core.exceptions import ValidationError

    crew = fake_llm_crew(workspace_of(alice), alice, fake_llm)
    model = crew.recipient.model
    model.clear_key()
    model.save()
    with pytest.raises(ValidationError) as refused:
        services.start_run(crew, user=alice)
    assert "has no API key" in " ".join(refused.value.messages)
    assert not Run.objects.exists()


def test_the_frozen_crew_never_changes(alice, fake_llm):
    fake_llm.reply(counting_reply)
    crew = fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=1)
    run = services.start_run(crew, user=alice)
    crew.task = "Something else entirely."
    crew.save()

    execute_here(run)
    assert transcript(run)[0][3] == "Count with me."
    run.refresh_from_db()
    run.crew_snapshot["crew"]["task"] = "tampered"
    with pytest.raises(ValueError, match="frozen"):
        run.save()


def test_code_and_its_output_are_paired_kinds(alice, tmp_path, settings):
    from studio.crews import services as crews
    from tests.runs.support import make_agent, replay_model

    ws = workspace_of(alice)
    coder_model = replay_model(ws, alice, replies=["```python\nprint(6 * 7)\n```"],
                               rules=[{"when": "exitcode: 0", "reply": "It printed 42. TERMINATE"}])
    coder = make_agent(ws, alice, name="coder", model=coder_model)
    runner = make_agent(ws, alice, name="runner", kind="user_proxy", human_input_mode="NEVER",
                        code_execution="local", max_consecutive_auto_reply=3, termination_rule="ends_with")
    crew = crews.create_crew(ws, user=alice, name="Code", kind="two_agent", initiator=runner, recipient=coder,
                             task="What is six times seven?")
    run = services.start_run(crew, user=alice)

    assert execute_here(run) == RunStatus.COMPLETED
    kinds = [(m.kind, m.sender) for m in Message.objects.filter(run=run).order_by("seq")]
    assert kinds == [(MessageKind.TEXT, "runner"), (MessageKind.CODE, "coder"), (MessageKind.CODE_OUTPUT, "runner"),
                     (MessageKind.TEXT, "coder")]
    output = Message.objects.get(run=run, kind=MessageKind.CODE_OUTPUT)
    assert output.payload["code_result"]["exit_code"] == 0 and "42" in output.content
    from workers.runloop import work_dir_for

    assert not work_dir_for(run.public_id).exists()  # removed once the run ended


def test_group_runs_record_speaker_selection_and_rounds(alice):
    from tests.runs.support import make_agent, replay_model

    ws = workspace_of(alice)
    model = replay_model(ws, alice, replies=["Noted."], when_exhausted="repeat_last")
    members = [make_agent(ws, alice, name=name, model=model, system_message="You report.") for name in ("ann", "ben", "cat")]
    from studio.crews import services as crews

    crew = crews.create_crew(ws, user=alice, name="Circle", kind="group", members=members, max_round=4,
                             speaker_selection="round_robin", task="Introduce yourselves.")
    run = services.start_run(crew, user=alice)

    assert execute_here(run) == RunStatus.COMPLETED
    run.refresh_from_db()
    rows = [(m.kind, m.sender, m.round) for m in Message.objects.filter(run=run).order_by("seq")]
    assert rows == [
        ("text", "ann", 0),
        ("speaker_selection", "", 1), ("text", "ben", 1),
        ("speaker_selection", "", 2), ("text", "cat", 2),
        ("speaker_selection", "", 3), ("text", "ann", 3),
    ]
    selection = Message.objects.filter(run=run, kind="speaker_selection").first()
    assert selection.payload == {"speaker": "ben", "method": "round_robin"}
    assert run.round == 3 and run.max_round == 4 and run.finish_reason == "max rounds"


def test_manual_speaker_selection_asks_with_the_eligible_speakers(alice):
    from studio.crews import services as crews
    from tests.runs.support import make_agent, replay_model

    ws = workspace_of(alice)
    model = replay_model(ws, alice, replies=["Here."], when_exhausted="repeat_last")
    lead = make_agent(ws, alice, name="lead", kind="user_proxy", human_input_mode="TERMINATE",
                      max_consecutive_auto_reply=5)
    ann, ben = (make_agent(ws, alice, name=name, model=model, system_message="You report.") for name in ("ann", "ben"))
    crew = crews.create_crew(ws, user=alice, name="Manual", kind="group", members=[lead, ann, ben], max_round=3,
                             speaker_selection="manual", allow_repeat_speaker=False, task="Report in.")
    run = services.start_run(crew, user=alice)

    assert execute_here(run) == RunStatus.AWAITING_INPUT
    question = services.open_request(Run.objects.get(pk=run.pk))
    assert (question.prompt_kind, question.mode, question.choices) == ("manual_selection", "manual_selection",
                                                                       ["ann", "ben"])
    assert question.allowed_actions == ["choose", "skip"]
    assert services.reply_to_request(question, user=alice, action="choose", choice="ben").accepted
    assert execute_here(run) == RunStatus.AWAITING_INPUT
    question = services.open_request(Run.objects.get(pk=run.pk))
    assert services.reply_to_request(question, user=alice, action="choose", choice="ann").accepted
    assert execute_here(run) == RunStatus.COMPLETED
    spoke = [(m.sender, m.kind) for m in Message.objects.filter(run=run).order_by("seq")]
    assert spoke == [("lead", "text"), ("", "speaker_selection"), ("ben", "text"), ("", "speaker_selection"),
                     ("ann", "text")]


def test_output_with_nul_characters_is_stored_safely(alice):
    from studio.crews import services as crews
    from tests.runs.support import make_agent, replay_model

    ws = workspace_of(alice)
    coder_model = replay_model(ws, alice, replies=["```python\nprint('a' + chr(0) + 'b')\n```"],
                               rules=[{"when": "exitcode: 0", "reply": "Done. TERMINATE"}])
    coder = make_agent(ws, alice, name="coder", model=coder_model, system_message="You code.")
    runner = make_agent(ws, alice, name="runner", kind="user_proxy", human_input_mode="NEVER",
                        code_execution="local", max_consecutive_auto_reply=3, termination_rule="ends_with")
    crew = crews.create_crew(ws, user=alice, name="Nul", kind="two_agent", initiator=runner, recipient=coder,
                             task="Print a NUL.")
    run = services.start_run(crew, user=alice)

    assert execute_here(run) == RunStatus.COMPLETED
    output = Message.objects.get(run=run, kind=MessageKind.CODE_OUTPUT)
    assert "a\ufffdb" in output.content and "\x00" not in output.content
