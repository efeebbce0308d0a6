"""Run events are handed to the relay loop without the worker waiting for Redis; other sends
still wait, the hand-over is bounded, and what is in flight is drained at exit. Checked against a
Redis address that accepts connections and never answers, so a waiting send really hangs."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
import redis

from studio.runs import events
from workers import relay

RUN = "00000000-0000-4000-8000-0000000000aa"


@pytest.fixture
def silent_redis(settings):
    """A TCP listener that accepts and never replies: a Redis stuck mid-answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{port}/0", "socket_timeout": 1}]},
    }}
    yield port
    stop.set()
    thread.join(2)
    for connection in accepted:
        connection.close()
    listener.close()


def timed(call) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def wait_for_text(caplog, text: str, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while text not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    return text in caplog.text


def test_run_events_do_not_wait_but_other_sends_do(silent_redis, caplog):
    group = relay.group_for_run(RUN)
    with caplog.at_level(logging.WARNING):
        for event in (events.tokens_event(RUN, "helper", "some words "), events.message_event(RUN, 3),
                      events.status_event(RUN, "completed", 3)):
            assert timed(lambda: events.publish(event)) < 0.5  # handed over; Redis has not answered
        # Nobody waited, so the relay says it failed, once per send, without failing the run.
        assert wait_for_text(caplog, "send nobody waited for failed")
        assert relay.drain(timeout=5)

        started = time.monotonic()  # a caller that waits (the default) meets the layer's 1 s timeout
        with pytest.raises(redis.exceptions.TimeoutError):
            relay.publish(group, {"type": "share.revoked"})
        assert time.monotonic() - started >= 0.9


def test_drain_waits_for_what_is_in_flight(silent_redis):
    relay.publish(relay.group_for_run(RUN), events.message_event(RUN, 1), wait=False)
    assert relay.drain(timeout=0.2) is False  # still stuck on the silent server
    assert relay.drain(timeout=5) is True  # its timeout ended it; nothing is left in flight


def test_the_hand_over_is_bounded(silent_redis, monkeypatch):
    monkeypatch.setattr(relay, "MAX_IN_FLIGHT", 3)
    tokens = events.tokens_event(RUN, "helper", "x ")
    group = relay.group_for_run(RUN)
    for _ in range(3):
        assert timed(lambda: relay.publish(group, tokens, wait=False)) < 0.5
    # A fourth would exceed the bound, so it waits for the layer like any other send, and so
    # meets the silent server's timeout.
    started = time.monotonic()
    with pytest.raises(redis.exceptions.TimeoutError):
        relay.publish(group, tokens, wait=False)
    assert time.monotonic() - started >= 0.9
