"""SDK clients are shared per process: conversations with equal model options reuse one client and
its open connections, through the real SDKs against the fake server."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from workers.agents.llm import LLMClient
from workers.agents.llm.sdk_clients import SharedClients, shared_clients


def ask(config: dict, text: str) -> str:
    return LLMClient(config).create(messages=[{"role": "user", "content": text}]).message["content"]


@pytest.mark.parametrize("api_type", ["openai", "anthropic"])
def test_conversations_with_equal_options_reuse_one_connection(fake_llm, api_type):
    fake_llm.reply("fine")
    config = fake_llm.llm_config(model="shared-model", api_type=api_type, api_key="key-shared-1")
    assert ask(config, "one") == ask(dict(config), "two") == "fine"
    first, second = fake_llm.requests
    assert first.client_port == second.client_port  # a second LLMClient, the same keep-alive socket

    other_key = fake_llm.llm_config(model="shared-model", api_type=api_type, api_key="key-shared-2")
    assert ask(other_key, "three") == "fine"
    third = fake_llm.requests[2]
    assert third.api_key == "key-shared-2" and third.client_port != first.client_port


def test_concurrent_conversations_share_a_client_safely(fake_llm):
    fake_llm.reply("ok", delay=0.05)
    config = fake_llm.llm_config(model="shared-threads", api_key="key-threads")
    answers: list[str] = []
    errors: list[BaseException] = []

    def converse(number: int) -> None:
        try:
            answers.append(ask(config, f"question {number}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=converse, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and answers == ["ok"] * 8
    texts = sorted(r.last_text for r in fake_llm.requests)
    assert texts == sorted(f"question {n}" for n in range(8))


def test_the_cache_is_bounded_and_keyed_without_the_key_in_clear():
    clients = SharedClients(max_clients=2)
    built: list[dict] = []

    def build(**options):
        built.append(options)
        return object()

    a = clients.get("openai", {"api_key": "sk-a"}, build)
    assert clients.get("openai", {"api_key": "sk-a"}, build) is a and len(built) == 1
    clients.get("openai", {"api_key": "sk-b"}, build)
    clients.get("openai", {"api_key": "sk-c"}, build)  # evicts the least recently used, sk-a
    assert len(clients) == 2
    assert clients.get("openai", {"api_key": "sk-a"}, build) is not a and len(built) == 4
    assert all("sk-" not in key for key in clients._clients)


def _count_in_child(queue) -> None:
    queue.put(len(shared_clients))


def test_a_forked_process_starts_with_no_shared_clients(fake_llm):
    fake_llm.reply("fine")
    ask(fake_llm.llm_config(model="before-fork", api_key="key-fork"), "hello")
    assert len(shared_clients) >= 1
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_count_in_child, args=(queue,))
    child.start()
    assert queue.get(timeout=20) == 0
    child.join(20)
