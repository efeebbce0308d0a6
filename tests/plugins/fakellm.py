"""Fixtures for the fake LLM server (tests/fakellm/; the usage guide is at the top of server.py).

`fake_llm`: the session's server with no rules (echo default) and an empty request log; everything a
test adds is cleared again afterwards, and any hanging answer is released.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.fakellm import FakeLLMServer


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()
