"""Token batches are handed to the relay loop without waiting for Redis; every other run event
still waits, and the hand-over is bounded. Checked against a Redis address that accepts
connections and never answers, so a waiting send really hangs."""

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
        "BACKEND": "channels_redis.core.RedisChannelLayer",
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


def test_token_batches_do_not_wait_but_doorbells_do(silent_redis, caplog):
    tokens = events.tokens_event(RUN, "helper", "some words ")
    assert timed(lambda: events.publish(tokens)) < 0.5  # handed over; Redis has not answered

    doorbell = events.message_event(RUN, 3)
    with caplog.at_level(logging.WARNING):
        assert timed(lambda: events.publish(doorbell)) >= 0.9  # waits for the layer's 1 s timeout
        assert "could not be relayed" in caplog.text  # ...and says so, without failing the run
        deadline = time.monotonic() + 10
        while "send nobody waited for failed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "send nobody waited for failed" in caplog.text  # the token batch's failure is logged too


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
