"""The run websocket decides access again on every event, token batches included: a role change
shows in the next status frame, a lost membership closes the socket at the next event."""

from __future__ import annotations

from asgiref.sync import async_to_sync, sync_to_async

from studio.accounts.models import Membership
from tests.runs.support import waiting_team_run
from workers import relay

REPLY_FORM = 'name="action" value="reply"'


def test_a_demoted_runner_loses_the_reply_form_and_a_removed_member_the_socket(ws_client, alice, bob):
    team, run = waiting_team_run(alice, bob, "runner")
    group = relay.group_for_run(run.public_id)
    status = {"type": "run.status", "run": str(run.public_id), "status": run.status, "seq": run.last_seq}
    tokens = {"type": "run.tokens", "run": str(run.public_id), "agent": "helper", "text": "Idea"}

    async def scenario():
        async with ws_client.connect(f"/ws/runs/{run.public_id}/?last_seq={run.last_seq}", user=bob) as socket:
            as_runner = await socket.receive_from()
            await sync_to_async(Membership.objects.filter(user=bob, workspace=team).update)(role="viewer")
            relay.publish(group, status)
            as_viewer = await socket.receive_from()
            await sync_to_async(Membership.objects.filter(user=bob, workspace=team).delete)()
            relay.publish(group, tokens)  # the very next event, a token batch, finds him gone
            output = await socket.receive_output(5)
            return as_runner, as_viewer, output

    as_runner, as_viewer, output = async_to_sync(scenario)()
    assert REPLY_FORM in as_runner
    assert REPLY_FORM not in as_viewer and "Only members with the runner role can answer." in as_viewer
    assert output["type"] == "websocket.close" and output["code"] == 4403
