"""Shared command line handling for the example crews."""

from __future__ import annotations

import argparse
import os
from typing import Any

TASK_COMPLETE = "TASK_COMPLETE"


def task_complete(message: dict) -> bool:
    """Ends the chat when a message says TASK_COMPLETE (None-safe: tool calls have no content)."""
    content = message.get("content")
    return isinstance(content, str) and TASK_COMPLETE in content


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--base-url", required=True, help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8765/v1")
    parser.add_argument("--model", default="gpt-4o-mini", help="model name sent to the endpoint")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY") or "not-needed", help="API key")
    return parser.parse_args(argv)


def llm_config(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "config_list": [{"model": args.model, "base_url": args.base_url, "api_key": args.api_key}],
        "temperature": 0,
    }


def report(result: Any) -> None:
    print("\n=== summary ===")
    print(result.summary.strip())
    print("=== cost ===")
    print(result.cost["usage_including_cached_inference"].get("total_cost", 0))
