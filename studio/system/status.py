"""What the System status page reports about this installation."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

DOCKER_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class RuntimeStatus:
    mode: str
    database: str
    broker: str
    channel_layer: str
    worker: str
    sandbox_image: str


@dataclass(frozen=True)
class DockerStatus:
    answers: bool
    detail: str
    image_present: bool | None  # None when the engine does not answer


def _short_class_name(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def runtime_status() -> RuntimeStatus:
    embedded = settings.PARLEY_EMBEDDED
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    return RuntimeStatus(
        mode=settings.PARLEY_MODE,
        database=connection.display_name if hasattr(connection, "display_name") else connection.vendor,
        broker="in-memory (memory://)" if embedded else "Redis",
        channel_layer=_short_class_name(layer),
        worker=(
            "a thread pool inside this server process"
            if embedded
            else f"separate `celery -A workers worker` processes ({settings.CELERY_WORKER_CONCURRENCY} threads each)"
        ),
        sandbox_image=settings.PARLEY_SANDBOX_IMAGE,
    )


def docker_status(image: str | None = None) -> DockerStatus:
    """Ask the Docker engine for a ping and the sandbox image; never raises."""
    image = image or settings.PARLEY_SANDBOX_IMAGE
    try:
        import docker
        from docker.errors import ImageNotFound
    except ImportError:  # pragma: no cover - docker is a pinned dependency
        return DockerStatus(False, "the docker Python package is not installed", None)
    client = None
    try:
        client = docker.from_env(timeout=DOCKER_TIMEOUT_SECONDS)
        client.ping()
        version = client.version().get("Version", "unknown version")
        try:
            client.images.get(image)
            present = True
        except ImageNotFound:
            present = False
        return DockerStatus(True, f"Docker Engine {version}", present)
    except Exception as exc:  # any failure means "no usable engine"; the page must still render
        return DockerStatus(False, f"{exc.__class__.__name__}: {str(exc)[:200]}", None)
    finally:
        if client is not None:
            client.close()
