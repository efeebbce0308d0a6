"""The System status page, its websocket consumer, and the relay, in-process."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from studio.system.consumers import CLOSE_UNAUTHENTICATED
from workers import relay


def worker_event(hostname: str = "test@host", latency_ms: float = 12.5) -> relay.WorkerCheckEvent:
    return {"type": "worker.check", "hostname": hostname, "latency_ms": latency_ms, "requested_at": time.time()}


# --- the page ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_status_page_requires_login(client):
    response = client.get("/system/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_status_page_reports_the_runtime(client, alice):
    client.force_login(alice)
    page = client.get("/system/").content.decode()
    assert "System status" in page
    assert f"<dt>Mode</dt><dd>{settings.PARLEY_MODE}</dd>" in page
    expected_layer = "InMemoryChannelLayer" if settings.PARLEY_EMBEDDED else "RedisPubSubChannelLayer"
    assert f"<code>{expected_layer}</code>" in page
    assert f"<code>{settings.PARLEY_SANDBOX_IMAGE}</code>" in page
    assert 'ws-connect="/ws/system/"' in page
    assert "Check the worker" in page and 'hx-post="/system/worker-check/"' in page
    assert 'id="worker-answer"' in page  # the partial the websocket later replaces


@pytest.mark.django_db
def test_docker_fragment_never_crashes_without_an_engine(client, alice, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # discard port: nothing answers
    client.force_login(alice)
    response = client.get("/system/docker/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.strip().startswith('<dd id="docker-status">')
    assert "No Docker engine answers" in fragment


@pytest.mark.docker
@pytest.mark.django_db
def test_docker_fragment_reports_a_live_engine(client, alice, docker_client):
    client.force_login(alice)
    fragment = client.get("/system/docker/", HTTP_HX_REQUEST="true").content.decode()
    assert "Answers (Docker Engine" in fragment


@pytest.mark.django_db
def test_worker_check_is_post_only_and_login_required(client, alice):
    assert client.post("/system/worker-check/").status_code == 302  # to the login page
    client.force_login(alice)
    assert client.get("/system/worker-check/").status_code == 405


# --- the consumer --------------------------------------------------------------------------------


def test_anonymous_socket_is_closed_with_4401(ws_client):
    async def scenario():
        async with ws_client.connect("/ws/system/") as socket:
            assert await socket.receive_close() == CLOSE_UNAUTHENTICATED

    async_to_sync(scenario)()


def test_foreign_origin_is_refused(ws_client, alice):
    async def scenario():
        async with ws_client.connect("/ws/system/", user=alice, origin="http://evil.example") as socket:
            assert not socket.accepted

    async_to_sync(scenario)()


def test_event_reaches_only_its_users_socket(ws_client, alice, bob):
    async def scenario():
        async with ws_client.connect("/ws/system/", user=alice) as alice_socket, ws_client.connect(
            "/ws/system/", user=bob
        ) as bob_socket:
            assert alice_socket.accepted and bob_socket.accepted
            # Published from the event loop itself: the relay schedules the send.
            relay.publish(relay.group_for_user(alice.public_id), worker_event("w1@box", 12.4))
            html = await alice_socket.receive_from(timeout=5)
            assert html.strip().startswith('<div id="worker-answer"')
            assert re.search(r"Worker <strong>w1@box</strong> answered in 12 ms", html)
            assert await bob_socket.receive_nothing(timeout=0.3)

    async_to_sync(scenario)()


def test_publish_from_a_worker_thread(ws_client, alice):
    """What a Celery task does: publish from a thread with no event loop of its own. The fixture
    registered the test's loop as the server loop, as `manage.py serve` does; the relay hops there."""

    async def scenario():
        async with ws_client.connect("/ws/system/", user=alice) as socket:
            assert relay.server_loop() is asyncio.get_running_loop()
            await sync_to_async(relay.publish, thread_sensitive=False)(
                relay.group_for_user(alice.public_id), worker_event("thread@box", 3.2)
            )
            assert "Worker <strong>thread@box</strong> answered in 3 ms" in await socket.receive_from(timeout=5)

    async_to_sync(scenario)()


def test_deactivated_user_stops_receiving(ws_client, alice):
    async def scenario():
        async with ws_client.connect("/ws/system/", user=alice) as socket:
            assert socket.accepted
            await sync_to_async(type(alice).objects.filter(pk=alice.pk).update)(is_active=False)
            relay.publish(relay.group_for_user(alice.public_id), worker_event())
            assert await socket.receive_close(timeout=5) == CLOSE_UNAUTHENTICATED

    async_to_sync(scenario)()


# --- relay contracts ----------------------------------------------------------------------------


def test_group_names_are_valid_and_distinct(alice, bob):
    from channels.layers import BaseChannelLayer

    layer = BaseChannelLayer()
    for group in (relay.group_for_user(alice.public_id), relay.group_for_run(bob.public_id)):
        assert layer.require_valid_group_name(group)
    assert relay.group_for_user(alice.public_id) != relay.group_for_user(bob.public_id)
    with pytest.raises(ValueError):
        relay.group_for_user("not-a-uuid")


def test_publish_rejects_malformed_events():
    with pytest.raises(ValueError, match="'type'"):
        relay.publish("user.x", {"hostname": "h"})  # type: ignore[typeddict-item]
    with pytest.raises(ValueError, match="'type'"):
        relay.publish("user.x", {"type": "worker_check"})  # type: ignore[typeddict-item]
    with pytest.raises(ValueError, match="group"):
        relay.publish("", worker_event())


def test_in_memory_layer_without_a_server_loop_fails_loudly(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    relay.unregister_server_loop()
    with pytest.raises(RuntimeError, match="embedded server's event loop"):
        relay.publish("user.nobody", worker_event())
