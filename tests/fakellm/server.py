"""A real HTTP server on 127.0.0.1 that speaks the OpenAI and Anthropic wire formats, for tests and demos.

Guide
=====
In tests, use the `fake_llm` fixture (tests/plugins/fakellm.py). It is this server, shared by the session,
with its rules and request log cleared before and after each test.

    def test_something(fake_llm):
        fake_llm.reply("Hello there. TERMINATE")                 # every request gets this answer
        llm_config = fake_llm.llm_config(model="gpt-test")        # OpenAI entry pointing at the fake
        llm_config = fake_llm.llm_config(model="claude-test", api_type="anthropic")
        # entries carry api_key "test-key" and retry_backoff 0.01 (fast retries); keywords add entry keys
        ...run the engine...
        assert fake_llm.requests[0].messages[-1]["content"] == "hi"

URLs: `fake_llm.openai_base_url` is `http://127.0.0.1:PORT/v1` (give it to the openai SDK / an entry's
`base_url`), `fake_llm.anthropic_base_url` is `http://127.0.0.1:PORT` (the anthropic SDK adds /v1).

Rules. `add_rule(**kw)` appends a Rule; for each request the first rule (in the order added) whose
conditions all hold answers it. Nothing matches -> the default rule: echo, "echo: <last message text>".
    Conditions:  api="openai"|"anthropic", model="gpt-x", contains="substring", regex=r"...",
                 tools=True|False (tools offered or not), api_key="k", call=0 or [0, 2] (index among the
                 requests that met this rule's other conditions), times=N (answer N requests, then step aside).
    Answers:     text="..." or text=lambda request: "...";  tool_calls=[{"name": "add", "arguments": {"a": 1}}]
                 (optionally with "id"; text and tool_calls may be combined);
                 error=429|500|401|404|... with error_message="...", error_code="content_filter" (OpenAI
                 `code`; Anthropic error `type`) and retry_after=seconds (429 sends
                 Retry-After: 0 unless given); delay=seconds before answering; hang=True (answer nothing until
                 the client gives up, or the server is reset or stopped); chunk_delay=seconds between streamed
                 chunks; finish_reason="length" (or Anthropic "max_tokens") to override the stop reason.
Shortcuts: `reply(text=None, tool_calls=None, **conditions)`, `fail(status, **conditions)`.
Examples:
    fake_llm.fail(429, times=2); fake_llm.reply("ok")           # 429 twice, then success
    fake_llm.reply(tool_calls=[{"name": "add", "arguments": {"a": 1, "b": 2}}], contains="add")
    fake_llm.fail(404, model="no-such-model")
    fake_llm.add_rule(hang=True, model="slow")                  # pair with a small `timeout` in the entry

Request log. `fake_llm.requests` lists RecordedRequest objects (rules.py): `.api`, `.path`, `.headers`
(lower-cased names), `.body` (parsed JSON), `.model`, `.messages`, `.system`, `.tools`, `.stream`,
`.last_text`, `.api_key`, `.rule` (name of the rule that answered, "default" for echo), `.status`,
`.received_at` (time.monotonic()), `.client_port` (equal ports: a reused connection). `fake_llm.last_request`
is the newest.

Tokens. prompt_tokens = words in every message's text (plus tool-call arguments and the Anthropic system
prompt); completion_tokens = words in the reply text plus its tool-call arguments (JSON). Words are
whitespace-separated. Streaming sends the text word by word; tool arguments in two pieces.

Strictness. Like the real services, malformed requests get a 400 with a provider-shaped error: a missing
model or messages; Anthropic: missing max_tokens, empty or whitespace-only text blocks, roles other than
user/assistant, tool_result without a tool_use in the previous message (or a tool_use left unanswered);
OpenAI: tool messages that answer no pending tool call, or tool calls left unanswered. `strict=False`
on the server turns these checks off.

Standalone: `python -m tests.fakellm --port 8765 [--script rules.json]`, where the script is
`{"rules": [{...Rule keywords...}], "default": {...}}` (callables are not available there).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import wire_anthropic, wire_openai
from .rules import RecordedRequest, Rule, ToolCall, prompt_tokens, rule_from_dict

ROUTES = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}
HANG_LIMIT = 60.0  # a hang never outlives this many seconds, even if nobody resets the server


class FakeLLMServer:
    """The server and its state. Thread-safe: handlers run in their own threads."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, strict: bool = True) -> None:
        self.host = host
        self.strict = strict
        self._requested_port = port
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._default = Rule(name="default")
        self._log: list[RecordedRequest] = []
        self._counter = 0
        self._release = threading.Event()  # set to end delays and hangs early (reset/stop)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> "FakeLLMServer":
        if self._httpd is not None:
            return self
        httpd = ThreadingHTTPServer((self.host, self._requested_port), _Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False  # hanging handlers are released by stop(), never joined
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fakellm:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake LLM server is not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    # -- rules ------------------------------------------------------------------------------------
    def add_rule(self, rule: Rule | None = None, /, **kwargs: Any) -> Rule:
        """Append a rule (a Rule, or Rule keywords). Returns it, so tests can read `.used`."""
        if rule is None:
            rule = Rule(**kwargs)
        elif kwargs:
            raise TypeError("add_rule: pass either a Rule or keywords, not both")
        with self._lock:
            if rule.name is None:
                rule.name = f"rule{len(self._rules)}"
            self._rules.append(rule)
        return rule

    def reply(self, text: Any = None, *, tool_calls: list | None = None, **kwargs: Any) -> Rule:
        """Answer matching requests with text and/or tool calls."""
        return self.add_rule(text=text, tool_calls=tool_calls, **kwargs)

    def fail(self, status: int, *, message: str | None = None, **kwargs: Any) -> Rule:
        """Answer matching requests with an HTTP error in the provider's JSON error shape."""
        return self.add_rule(error=status, error_message=message, **kwargs)

    def set_default(self, **kwargs: Any) -> Rule:
        """Replace the fallback rule (default: echo). Conditions on it are ignored."""
        with self._lock:
            self._default = Rule(name="default", **kwargs)
        return self._default

    def load_script(self, script: dict) -> None:
        """Load `{"rules": [...], "default": {...}}` (Rule keywords), as the standalone server does."""
        for spec in script.get("rules", []):
            self.add_rule(rule_from_dict(spec))
        if "default" in script:
            self.set_default(**script["default"])

    def reset(self) -> None:
        """Forget rules and the log, restore the echo default, and end any delay or hang in progress."""
        with self._lock:
            self._release.set()
            self._release = threading.Event()
            self._rules = []
            self._default = Rule(name="default")
            self._log = []
            self._counter = 0

    # -- log --------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self._log[-1] if self._log else None

    def requests_for(self, api: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.api == api]

    # -- test helpers -----------------------------------------------------------------------------
    def llm_config(self, model: str = "gpt-test", api_type: str = "openai", **entry: Any) -> dict:
        """An llm_config with one entry pointing at this server (see config_entry)."""
        return {"config_list": [self.config_entry(model, api_type, **entry)]}

    def config_entry(self, model: str = "gpt-test", api_type: str = "openai", **entry: Any) -> dict:
        """One config entry for this server: api_key "test-key" and retry_backoff 0.01 s (so scripted
        429/5xx retries stay fast) unless given; other keywords are added to the entry."""
        base_url = self.anthropic_base_url if api_type == "anthropic" else self.openai_base_url
        return {"model": model, "api_type": api_type, "base_url": base_url, "api_key": "test-key",
                "retry_backoff": 0.01, **entry}

    # -- used by the handler ----------------------------------------------------------------------
    def _record_and_choose(self, request: RecordedRequest) -> tuple[Rule, int, threading.Event]:
        with self._lock:
            self._log.append(request)
            self._counter += 1
            chosen = next((r for r in self._rules if r.claim(request)), None)
            if chosen is None:
                chosen = self._default
                chosen.used += 1
            request.rule = chosen.name
            return chosen, self._counter, self._release


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    server_version = "ParleyFakeLLM/1.0"

    @property
    def fake(self) -> FakeLLMServer:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean; the request log is the record

    # -- HTTP verbs -------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/healthz", "/v1/healthz"):
            self._send_json(200, {"ok": True})
        else:
            self._send_json(404, {"error": {"message": f"no route for GET {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        api = ROUTES.get(path, "other")
        request = RecordedRequest(api=api, method="POST", path=self.path,
                                  headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                                  client_port=self.client_address[1])
        if api == "other":
            with self.fake._lock:
                self.fake._log.append(request)
            request.status = 404
            self._send_json(404, {"error": {"message": f"no route for POST {path}", "type": "not_found"}})
            return
        wire = wire_openai if api == "openai" else wire_anthropic
        rule, number, release = self.fake._record_and_choose(request)
        try:
            self._answer(request, rule, number, release, wire)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout); nothing left to answer

    # -- answering --------------------------------------------------------------------------------
    def _answer(self, request: RecordedRequest, rule: Rule, number: int, release: threading.Event, wire: Any) -> None:
        if rule.hang:
            release.wait(HANG_LIMIT)
            request.status = 0  # never answered
            self.close_connection = True
            return
        if rule.delay and release.wait(rule.delay):
            request.status = 0
            self.close_connection = True
            return
        body = request.body
        if not isinstance(body, dict):
            self._send_error(request, wire, 400, "the request body must be a JSON object")
            return
        if rule.error is not None:
            status = int(rule.error)
            message = rule.error_message or wire.default_error_message(status, request.model, request.api_key)
            headers = {}
            if status == 429:
                headers["Retry-After"] = _seconds(rule.retry_after if rule.retry_after is not None else 0)
            elif rule.retry_after is not None:
                headers["Retry-After"] = _seconds(rule.retry_after)
            self._send_error(request, wire, status, message, headers, rule.error_code)
            return
        problem = wire.check_request(body) if self.fake.strict else None
        if problem:
            self._send_error(request, wire, 400, problem)
            return
        calls: list[ToolCall] = list(rule.tool_calls or [])
        prefix = "call" if request.api == "openai" else "toolu"
        ids = [c.id or f"{prefix}_fake{number}_{i}" for i, c in enumerate(calls)]
        fields = dict(
            model=request.model, text=rule.reply_text(request), calls=calls, ids=ids,
            prompt=prompt_tokens(request.api, body), finish_reason=rule.finish_reason,
        )
        request.status = 200
        if request.api == "openai":
            fields["response_id"] = f"chatcmpl-fake{number}"
            if request.stream:
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                events = (("", c) for c in wire.chunks(include_usage=include_usage, **fields))
                self._send_sse(events, rule.chunk_delay, release, done_marker=True)
            else:
                self._send_json(200, wire.completion(**fields))
        else:
            fields["response_id"] = f"msg_fake{number}"
            if request.stream:
                self._send_sse(wire.events(**fields), rule.chunk_delay, release, done_marker=False)
            else:
                self._send_json(200, wire.message(**fields))

    def _send_error(self, request: RecordedRequest, wire: Any, status: int, message: str,
                    headers: dict[str, str] | None = None, code: str | None = None) -> None:
        request.status = status
        self._send_json(status, wire.error_body(status, message, code), headers)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_fake_{time.monotonic_ns()}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_sse(self, events: Any, chunk_delay: float, release: threading.Event, *, done_marker: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event, data in events:
            head = f"event: {event}\n" if event else ""
            self._write_chunk(f"{head}data: {json.dumps(data)}\n\n".encode())
            if chunk_delay and release.wait(chunk_delay):
                break
        if done_marker:
            self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
