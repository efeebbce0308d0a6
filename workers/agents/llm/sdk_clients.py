"""SDK clients shared by every conversation of a process, one per distinct client configuration.

Building an `openai.OpenAI` or `anthropic.Anthropic` client builds an HTTP client with its own
connection pool and TLS context: about 30 ms of CPU, even for a plain-http endpoint. A worker runs
many conversations against the same few model entries, so a client per conversation spends more
CPU than the conversation's own turns, and reconnects every time. The SDK clients are safe to
share between threads, so conversations with equal options (key, base URL, timeout, headers)
share one and its open connections.

The cache is keyed by a digest of the options, so it holds no API key as a key; it is bounded,
and a process forked after using it starts empty (sockets must not be shared across a fork).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from typing import Any, Callable, TypeVar

Client = TypeVar("Client")

MAX_CLIENTS = 64


class SharedClients:
    def __init__(self, max_clients: int = MAX_CLIENTS) -> None:
        self.max_clients = max_clients
        self._clients: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(kind: str, options: dict[str, Any]) -> str:
        text = json.dumps([kind, options], sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, kind: str, options: dict[str, Any], build: Callable[..., Client]) -> Client:
        """The process's client of `kind` for these options, built with `build(**options)` once."""
        key = self.key(kind, options)
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
        client = build(**options)  # outside the lock: building is slow, and a rare double build is harmless
        with self._lock:
            client = self._clients.setdefault(key, client)
            self._clients.move_to_end(key)
            while len(self._clients) > self.max_clients:
                # Not closed: a conversation may still be using it; it closes when collected.
                self._clients.popitem(last=False)
        return client

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()

    def forget_after_fork(self) -> None:
        # A new lock too: another thread of the parent may have held the old one at the fork.
        self._clients = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)


shared_clients = SharedClients()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=shared_clients.forget_after_fork)
