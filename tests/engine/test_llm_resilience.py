"""Retries, fallback over config entries, timeouts and clear errors, against the fake server over HTTP."""

from __future__ import annotations

import time

import pytest

from workers.agents.llm import (
    LLMAuthenticationError, LLMClient, LLMContentFilterError, LLMModelNotFound, LLMRateLimitError, LLMServerError,
    LLMTimeoutError,
)
from workers.agents.llm.client import backoff_delay

HI = [{"role": "user", "content": "hi"}]
FAST = {"retry_backoff": 0.05, "retry_max_delay": 1.0}


def test_falls_back_to_the_second_entry_after_the_first_returns_500s(fake_llm):
    fake_llm.fail(500, model="primary")
    fake_llm.reply("from the backup", model="backup")
    client = LLMClient({"config_list": [fake_llm.config_entry("primary", max_retries=1, **FAST),
                                        fake_llm.config_entry("backup")]})
    response = client.create(messages=HI)
    assert response.message["content"] == "from the backup"
    assert response.model == "backup" and response.config_id == 1
    # One attempt plus one retry on the primary (the SDK's own retries are off), then the backup once.
    assert [r.model for r in fake_llm.requests] == ["primary", "primary", "backup"]
    assert client.total_usage_summary["backup"]["total_tokens"] == response.usage["total_tokens"]
    assert "primary" not in client.total_usage_summary


def test_429_twice_then_success_with_backoff(fake_llm):
    fake_llm.fail(429, times=2)
    fake_llm.reply("finally")
    client = LLMClient(fake_llm.llm_config(max_retries=3, **FAST))
    started = time.monotonic()
    response = client.create(messages=HI)
    assert response.message["content"] == "finally"
    times = [r.received_at for r in fake_llm.requests]
    assert [r.status for r in fake_llm.requests] == [429, 429, 200]
    # Exponential: >= 0.05 s before the first retry and >= 0.10 s before the second (plus jitter).
    assert times[1] - times[0] >= 0.05 and times[2] - times[1] >= 0.10
    assert time.monotonic() - started < 2


def test_retry_after_is_honoured_and_capped(fake_llm):
    fake_llm.fail(429, times=1, retry_after=0.3)
    fake_llm.fail(503, times=1, retry_after=30)
    fake_llm.reply("ok")
    client = LLMClient(fake_llm.llm_config(max_retries=2, retry_backoff=0.01, retry_max_delay=0.5))
    client.create(messages=HI)
    times = [r.received_at for r in fake_llm.requests]
    assert times[1] - times[0] >= 0.3  # waited for Retry-After, longer than the 0.01 s backoff
    assert times[2] - times[1] < 1.5  # Retry-After: 30 capped by retry_max_delay


def test_retries_exhausted_raise_the_rate_limit_error(fake_llm):
    fake_llm.fail(429, message="slow down please")
    client = LLMClient(fake_llm.llm_config(max_retries=1, **FAST))
    with pytest.raises(LLMRateLimitError, match="slow down please") as caught:
        client.create(messages=HI)
    assert caught.value.status == 429 and len(fake_llm.requests) == 2


def test_timeout_moves_to_the_next_entry(fake_llm):
    fake_llm.add_rule(hang=True, model="slow")
    fake_llm.reply("quick answer", model="quick")
    client = LLMClient({"config_list": [fake_llm.config_entry("slow", timeout=0.3, max_retries=0),
                                        fake_llm.config_entry("quick")]})
    started = time.monotonic()
    response = client.create(messages=HI)
    assert response.model == "quick" and response.message["content"] == "quick answer"
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("api_type", ["openai", "anthropic"])
def test_timeout_on_the_last_entry_raises_a_timeout_error(fake_llm, api_type):
    fake_llm.add_rule(hang=True)
    client = LLMClient(fake_llm.llm_config("slow", api_type=api_type, timeout=0.2, max_retries=1, **FAST))
    with pytest.raises(TimeoutError) as caught:
        client.create(messages=HI)
    assert isinstance(caught.value, LLMTimeoutError) and "0.2 seconds" in str(caught.value)
    assert len(fake_llm.requests) == 2  # timeouts are retried within the entry


@pytest.mark.parametrize("api_type", ["openai", "anthropic"])
def test_a_stream_that_stalls_mid_way_times_out(fake_llm, api_type):
    fake_llm.reply("one two three", chunk_delay=0.6)
    client = LLMClient(fake_llm.llm_config("m", api_type=api_type, timeout=0.2, max_retries=0))
    with pytest.raises(LLMTimeoutError):
        client.create(messages=HI, on_token=lambda delta: None)


@pytest.mark.parametrize("api_type", ["openai", "anthropic"])
def test_401_is_a_plain_authentication_error_and_not_retried(fake_llm, api_type):
    fake_llm.fail(401, message="this key is revoked")
    client = LLMClient(fake_llm.llm_config("gpt-4o", api_type=api_type, api_key="sk-bad", **FAST))
    with pytest.raises(LLMAuthenticationError) as caught:
        client.create(messages=HI)
    message = str(caught.value)
    assert message.startswith(f"the API key was rejected by {api_type}") and "for model gpt-4o" in message
    assert message.endswith(": this key is revoked") and caught.value.provider_message == "this key is revoked"
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize("api_type", ["openai", "anthropic"])
def test_404_unknown_model_is_model_not_found(fake_llm, api_type):
    fake_llm.fail(404, model="gpt-nonexistent")
    client = LLMClient(fake_llm.llm_config("gpt-nonexistent", api_type=api_type, **FAST))
    with pytest.raises(LLMModelNotFound, match="model gpt-nonexistent was not found") as caught:
        client.create(messages=HI)
    assert caught.value.status == 404 and len(fake_llm.requests) == 1


def test_last_entry_error_is_raised_after_all_entries_fail(fake_llm):
    fake_llm.fail(401, model="first")
    fake_llm.fail(500, model="second")
    client = LLMClient({"config_list": [fake_llm.config_entry("first"),
                                        fake_llm.config_entry("second", max_retries=0)]})
    with pytest.raises(LLMServerError, match="second"):
        client.create(messages=HI)
    assert client.total_usage_summary is None


def test_content_filter_is_raised_at_once_without_fallback(fake_llm):
    fake_llm.fail(400, error_code="content_filter", message="blocked by policy", model="filtered")
    client = LLMClient({"config_list": [fake_llm.config_entry("filtered"), fake_llm.config_entry("other")]})
    with pytest.raises(LLMContentFilterError, match="blocked by policy"):
        client.create(messages=HI)
    assert [r.model for r in fake_llm.requests] == ["filtered"]


def test_missing_openai_key_is_clear_and_falls_back(fake_llm, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    fake_llm.reply("ok")
    alone = LLMClient({"model": "gpt-4o"})
    with pytest.raises(LLMAuthenticationError, match="OPENAI_API_KEY"):
        alone.create(messages=HI)
    with_backup = LLMClient({"config_list": [{"model": "gpt-4o"}, fake_llm.config_entry("backup")]})
    assert with_backup.create(messages=HI).model == "backup"


def test_connection_refused_is_retried_then_reported():
    # A port nobody listens on: the fake server's own port after a throwaway server stops.
    from tests.fakellm import FakeLLMServer

    with FakeLLMServer() as dead:
        url = dead.openai_base_url
    client = LLMClient({"model": "m", "base_url": url, "max_retries": 1, **FAST})
    with pytest.raises(Exception) as caught:
        client.create(messages=HI)
    assert type(caught.value).__name__ == "LLMConnectionError" and url in str(caught.value)


def test_backoff_delay_is_exponential_jittered_and_capped():
    for attempt in range(4):
        delay = backoff_delay(attempt, 0.1, 10)
        assert 0.1 * 2 ** attempt <= delay <= 0.15 * 2 ** attempt
    assert backoff_delay(10, 1.0, 5.0) == 5.0
    assert backoff_delay(0, 0.01, 5.0, retry_after=2.0) == 2.0
