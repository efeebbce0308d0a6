"""The fake LLM server: a real HTTP server speaking the OpenAI and Anthropic wire formats (guide: server.py)."""

from .rules import RecordedRequest, Rule, ToolCall, count_tokens
from .server import FakeLLMServer

__all__ = ["FakeLLMServer", "RecordedRequest", "Rule", "ToolCall", "count_tokens"]
