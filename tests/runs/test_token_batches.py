"""The worker's token batches (workers.runloop.TokenBatcher): at most one per interval, none
while the run's previous batch is still on its way; text gathers meanwhile and nothing is lost."""

from __future__ import annotations

import concurrent.futures
import time
import uuid

from workers.runloop import TokenBatcher


class SlowRelay:
    """A publisher whose sends complete only when the test says so, like a backed-up Redis."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.sends: list[concurrent.futures.Future] = []

    def __call__(self, event: dict) -> concurrent.futures.Future:
        self.sent.append(event)
        self.sends.append(concurrent.futures.Future())
        return self.sends[-1]


def test_batches_wait_for_the_previous_send_and_gather_meanwhile():
    relay = SlowRelay()
    batcher = TokenBatcher(uuid.uuid4(), relay, interval=0.01)
    batcher.add("helper", "one ")
    assert [e["text"] for e in relay.sent] == ["one "]
    for word in ("two ", "three ", "four "):
        time.sleep(0.02)  # the interval has passed, but the first batch is still on its way
        batcher.add("helper", word)
    assert len(relay.sent) == 1

    relay.sends[0].set_result(None)
    time.sleep(0.02)
    batcher.add("helper", "five ")
    assert [e["text"] for e in relay.sent] == ["one ", "two three four five "]


def test_the_end_of_a_step_flushes_whatever_is_in_flight():
    relay = SlowRelay()
    batcher = TokenBatcher(uuid.uuid4(), relay, interval=0.01)
    batcher.add("helper", "start ")
    batcher.add("helper", "end")
    batcher.flush()  # what the step loop calls before saving the step
    assert [e["text"] for e in relay.sent] == ["start ", "end"]


def test_a_publisher_that_returns_nothing_only_keeps_the_interval():
    sent: list[dict] = []
    batcher = TokenBatcher(uuid.uuid4(), sent.append, interval=0.01)
    for word in ("a ", "b ", "c "):
        batcher.add("helper", word)
        time.sleep(0.02)
    assert [e["text"] for e in sent] == ["a ", "b ", "c "]
