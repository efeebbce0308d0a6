"""The fake LLM server itself: rules, errors, strictness, the log, and the standalone command."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.fakellm import FakeLLMServer

REPO = Path(__file__).resolve().parents[2]


def post(url: str, body: dict, headers: dict | None = None, timeout: float = 5) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def chat(fake: FakeLLMServer, text: str, model: str = "m", **extra) -> tuple[int, dict, dict]:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return post(f"{fake.openai_base_url}/chat/completions", body, {"Authorization": "Bearer k1"})


def test_rules_match_in_order_with_conditions_and_times(fake_llm):
    fake_llm.reply("weather answer", contains="weather", times=1)
    fake_llm.reply("number answer", regex=r"\d{3}")
    fake_llm.reply("model answer", model="special")
    assert chat(fake_llm, "the weather today")[2]["choices"][0]["message"]["content"] == "weather answer"
    # `times=1` is spent: the next weather question falls through to the default echo.
    assert chat(fake_llm, "the weather again")[2]["choices"][0]["message"]["content"] == "echo: the weather again"
    assert chat(fake_llm, "call 555 now")[2]["choices"][0]["message"]["content"] == "number answer"
    assert chat(fake_llm, "hello", model="special")[2]["choices"][0]["message"]["content"] == "model answer"
    assert [r.rule for r in fake_llm.requests] == ["rule0", "default", "rule1", "rule2"]


def test_call_index_tools_and_api_key_conditions(fake_llm):
    fake_llm.reply("second only", call=1)
    fake_llm.reply("with tools", tools=True)
    fake_llm.reply("key two", api_key="k2")
    texts = [chat(fake_llm, "x")[2]["choices"][0]["message"]["content"] for _ in range(3)]
    assert texts == ["echo: x", "second only", "echo: x"]
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    assert chat(fake_llm, "x", tools=[tool])[2]["choices"][0]["message"]["content"] == "with tools"
    _, _, body = post(f"{fake_llm.openai_base_url}/chat/completions",
                           {"model": "m", "messages": [{"role": "user", "content": "x"}]}, {"Authorization": "Bearer k2"})
    assert body["choices"][0]["message"]["content"] == "key two"
    assert fake_llm.last_request.api_key == "k2"


def test_usage_is_a_word_count_and_the_model_is_echoed(fake_llm):
    fake_llm.reply("three little words")
    _, _, body = chat(fake_llm, "one two three four", model="gpt-echo")
    assert body["model"] == "gpt-echo"
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
    assert body["id"].startswith("chatcmpl-")


@pytest.mark.parametrize("status", [401, 404, 429, 500])
def test_error_bodies_are_provider_shaped(fake_llm, status):
    fake_llm.fail(status)
    code, headers, body = chat(fake_llm, "x", model="m1")
    assert code == status and isinstance(body["error"]["message"], str) and "type" in body["error"]
    if status == 429:
        assert headers["Retry-After"] == "0"
    code, _, body = post(f"{fake_llm.anthropic_base_url}/v1/messages",
                         {"model": "m1", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert code == status and body["type"] == "error" and body["error"]["type"]
    assert fake_llm.requests[-1].status == status


def test_retry_after_and_error_code_are_sent(fake_llm):
    fake_llm.fail(400, error_code="content_filter", message="filtered", times=1)
    fake_llm.fail(503, retry_after=2)
    code, _, body = chat(fake_llm, "x")
    assert (code, body["error"]["code"], body["error"]["message"]) == (400, "content_filter", "filtered")
    code, headers, _ = chat(fake_llm, "x")
    assert (code, headers["Retry-After"]) == (503, "2")


def test_strict_checks_reject_malformed_requests(fake_llm):
    orphan_tool = {"model": "m", "messages": [{"role": "user", "content": "x"},
                                              {"role": "tool", "tool_call_id": "c1", "content": "5"}]}
    code, _, body = post(f"{fake_llm.openai_base_url}/chat/completions", orphan_tool)
    assert code == 400 and "tool" in body["error"]["message"]
    no_max_tokens = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    code, _, body = post(f"{fake_llm.anthropic_base_url}/v1/messages", no_max_tokens)
    assert code == 400 and "max_tokens" in body["error"]["message"]
    unanswered = {"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": "next"}]}
    code, _, body = post(f"{fake_llm.anthropic_base_url}/v1/messages", unanswered)
    assert code == 400 and "t1" in body["error"]["message"]


def test_unknown_path_is_404_and_logged(fake_llm):
    code, _, body = post(f"{fake_llm.base_url}/v1/completions", {"model": "m"})
    assert code == 404 and "no route" in body["error"]["message"]
    assert fake_llm.last_request.api == "other"


def test_reset_releases_a_hanging_request_quickly(fake_llm):
    fake_llm.add_rule(hang=True)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(chat(fake_llm, "x"))
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError) as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 5
    while not fake_llm.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    fake_llm.reset()
    thread.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - started < 2
    assert isinstance(outcome[0], Exception)  # the hang never produced an answer


def test_delay_is_observed(fake_llm):
    fake_llm.reply("late", delay=0.2)
    started = time.monotonic()
    assert chat(fake_llm, "x")[2]["choices"][0]["message"]["content"] == "late"
    assert time.monotonic() - started >= 0.2


def test_callable_text_and_bad_rules(fake_llm):
    fake_llm.reply(lambda request: f"you said {len(request.messages)} message(s)")
    assert chat(fake_llm, "x")[2]["choices"][0]["message"]["content"] == "you said 1 message(s)"
    with pytest.raises(ValueError, match="api"):
        fake_llm.add_rule(api="gemini")
    with pytest.raises(ValueError, match="error"):
        fake_llm.fail(200)
    with pytest.raises(ValueError, match="name"):
        fake_llm.reply(tool_calls=[{"arguments": {}}])


def test_standalone_command_serves_a_script(tmp_path):
    script = tmp_path / "rules.json"
    script.write_text(json.dumps({"rules": [{"contains": "ping", "text": "pong"}], "default": {"text": "default!"}}))
    process = subprocess.Popen([sys.executable, "-m", "tests.fakellm", "--port", "0", "--script", str(script)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "fake LLM server on http://127.0.0.1:" in line, process.stderr.read()
        base = line.split(" on ", 1)[1].split(" ", 1)[0]
        body = {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
        assert post(f"{base}/v1/chat/completions", body)[2]["choices"][0]["message"]["content"] == "pong"
        body["messages"][0]["content"] = "other"
        assert post(f"{base}/v1/chat/completions", body)[2]["choices"][0]["message"]["content"] == "default!"
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
