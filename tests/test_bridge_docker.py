"""The bridge with a real Docker engine: the Demo crew's code and a crew's tools run in the sandbox image."""

from __future__ import annotations

import pytest

from studio.crews import services
from studio.crews.gallery import load_gallery
from studio.crews.models import GalleryCrew
from studio.crews.snapshots import export_crew
from tests.factories import UserFactory
from tests.studio.crews_support import ADD_TOOL, make_agent, replay_model, workspace_of
from workers.agents import EventLog, SuspendingInput
from workers.bridge import build_conversation

pytestmark = [pytest.mark.django_db, pytest.mark.docker]


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def test_demo_crew_runs_in_the_sandbox(sandbox_image, settings, tmp_path):
    settings.PARLEY_SANDBOX_IMAGE = sandbox_image
    load_gallery()
    demo = GalleryCrew.objects.get(slug="demo-no-api-key").crew
    log = EventLog()
    with build_conversation(export_crew(demo), sink=log, input_provider=SuspendingInput(), work_dir=tmp_path) as built:
        built.conversation.run()
    assert built.notices == [] and not [e for e in log if e["type"] == "notice"]
    code = log.of_type("code_output")[0]
    assert code["exit_code"] == 0 and "sum: 328" in code["output"]
    assert log.of_type("finished")[0]["code"] == "termination"


def test_tools_run_inside_the_sandbox_container(alice, docker_client, sandbox_image, settings, tmp_path):
    settings.PARLEY_SANDBOX_IMAGE = sandbox_image
    ws = workspace_of(alice)
    where = 'def where() -> str:\n    """Report the user the tool runs as."""\n    import os\n    return str(os.getuid())\n'
    model = replay_model(ws, alice, replies=[
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "where", "arguments": {}}]},
        "Done. TERMINATE",
    ])
    calc = make_agent(ws, alice, name="calc", model=model, tools=[ADD_TOOL, where], system_message="You calculate.")
    runner = make_agent(ws, alice, name="runner", kind="user_proxy", human_input_mode="NEVER", code_execution="docker",
                        termination_rule="ends_with")
    crew = services.create_crew(ws, user=alice, name="Sandboxed", kind="two_agent", initiator=runner,
                                recipient=calc, task="go")
    log = EventLog()
    with build_conversation(export_crew(crew), sink=log, input_provider=SuspendingInput(), work_dir=tmp_path) as built:
        built.conversation.run()
        container_id = built._tool_runners["runner"].container_id
        assert container_id
    responses = log.of_type("message")[2]["message"]["tool_responses"]
    assert [r["content"] for r in responses] == ["3", "1000"]  # the sandbox user, not this process's
    assert not docker_client.containers.list(all=True, filters={"id": container_id})  # removed by close()
