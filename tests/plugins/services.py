"""Fixtures for the real services tests use: Redis, PostgreSQL, the Docker engine, the sandbox image.

Locally a missing service skips the test with the reason. With CI=true or PARLEY_REQUIRE_SERVICES=1
a missing service fails the test instead: CI must never pass by skipping what it was meant to prove.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest


def services_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("PARLEY_REQUIRE_SERVICES") == "1"


def require_service(available: bool, reason: str) -> None:
    """Skip (locally) or fail (CI) the calling test when a service is not available."""
    if available:
        return
    if services_required():
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def _tcp_answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    require_service(bool(url), "REDIS_URL is not set")
    require_service(_tcp_answers(url, 6379), f"no Redis answers at {url}")
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    require_service(url.startswith(("postgres://", "postgresql://")), "DATABASE_URL does not name a PostgreSQL server")
    require_service(_tcp_answers(url, 5432), f"no PostgreSQL answers at {url}")
    return url


@pytest.fixture(scope="session")
def docker_client():
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:  # any failure to reach the engine means "no Docker here"
        require_service(False, f"no Docker engine answers ({exc.__class__.__name__}: {exc})")
    yield client
    client.close()


@pytest.fixture(scope="session")
def sandbox_image(docker_client) -> str:
    import docker

    name = os.environ.get("PARLEY_SANDBOX_IMAGE", "parley-sandbox")
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        require_service(False, f"sandbox image {name!r} is not built (bash workers/sandbox/build.sh)")
    return name
