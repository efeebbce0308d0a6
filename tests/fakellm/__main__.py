"""Run the fake LLM server standalone: `python -m tests.fakellm --port 8765 [--script rules.json]`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .server import FakeLLMServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakellm", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind; 0 picks a free one (default 8765)")
    parser.add_argument("--script", help='JSON file: {"rules": [{...}], "default": {...}} with Rule keywords')
    parser.add_argument("--lenient", action="store_true", help="accept malformed requests instead of answering 400")
    args = parser.parse_args(argv)

    server = FakeLLMServer(args.host, args.port, strict=not args.lenient)
    if args.script:
        with open(args.script, encoding="utf-8") as handle:
            server.load_script(json.load(handle))
    server.start()
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    print(f"fake LLM server on {server.base_url} (OpenAI: {server.openai_base_url}, "
          f"Anthropic: {server.anthropic_base_url})", flush=True)
    try:
        stopped.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
