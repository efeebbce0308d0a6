"""One warm sandbox container per conversation (Parley's legacy-Docker design, see docs/engine.md).

The container starts on first use and keeps running between blocks, so files and user-installed
packages persist for the whole conversation. Files go in with `put_archive`, code runs with
`exec` under coreutils `timeout`, and nothing is bind-mounted from the worker's filesystem, so a
worker that itself runs in a container with only the Docker socket works the same.
The work dir is a size-capped tmpfs volume owned by the sandbox user. `close()` removes the
container and the volume; a finalizer does the same at garbage collection or interpreter exit.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .sandbox import LABEL, SANDBOX_UID, WORKSPACE, SandboxLimits, collect_dir, hardened_options, tar_bytes

logger = logging.getLogger(__name__)

SEED_LIMIT_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool


class WarmContainer:
    def __init__(
        self,
        client: Any,
        image: str,
        *,
        seed_dir: Path | None = None,
        limits: SandboxLimits = SandboxLimits(),
        workspace_size: str = "256m",
    ) -> None:
        self._client = client
        self._image = image
        self._seed_dir = seed_dir
        self._limits = limits
        self._workspace_size = workspace_size
        self._container: Any = None
        self._finalizer: weakref.finalize | None = None
        self._lock = threading.Lock()

    @property
    def image(self) -> str:
        return self._image

    @property
    def container_id(self) -> str | None:
        return self._container.id if self._container is not None else None

    def _ensure_started(self) -> Any:
        with self._lock:
            if self._container is None:
                self._start()
            return self._container

    def _start(self) -> None:
        import docker

        suffix = uuid.uuid4().hex[:12]
        uid = SANDBOX_UID
        volume = self._client.volumes.create(
            name=f"parley-ws-{suffix}",
            driver="local",
            driver_opts={"type": "tmpfs", "device": "tmpfs", "o": f"size={self._workspace_size},uid={uid},gid={uid},mode=0755"},
            labels={LABEL: "1"},
        )
        options = hardened_options(self._limits)
        try:
            container = self._client.containers.run(
                self._image,
                name=f"parley-exec-{suffix}",
                entrypoint=["sleep", "infinity"],
                command=[],
                detach=True,
                working_dir=WORKSPACE,
                mounts=[docker.types.Mount(target=WORKSPACE, source=volume.name, type="volume")],
                **options,
            )
        except Exception:
            _remove(self._client, None, volume.name)
            raise
        self._container = container
        self._finalizer = weakref.finalize(self, _remove, self._client, container.id, volume.name)
        logger.info("started sandbox container %s from %s", container.name, self._image)
        if self._seed_dir is not None:
            seed = collect_dir(self._seed_dir, SEED_LIMIT_BYTES)
            if seed:
                container.put_archive(WORKSPACE, tar_bytes(seed))

    def put_file(self, relative_path: str, content: str) -> None:
        container = self._ensure_started()
        if not container.put_archive(WORKSPACE, tar_bytes({relative_path: content.encode("utf-8")})):
            raise RuntimeError(f"could not copy {relative_path} into sandbox container {container.name}")

    def remove_file(self, relative_path: str) -> None:
        container = self._ensure_started()
        container.exec_run(["rm", "-f", "--", f"{WORKSPACE}/{relative_path}"])

    def run(self, argv: list[str], timeout: float) -> ExecResult:
        """Run ``argv`` in /workspace under coreutils `timeout` (TERM at the limit, KILL 2 s later)."""
        container = self._ensure_started()
        limit = str(max(int(timeout), 1))
        started = time.monotonic()
        result = container.exec_run(["timeout", "-k", "2", limit, *argv], workdir=WORKSPACE, demux=True)
        elapsed = time.monotonic() - started
        stdout, stderr = result.output if result.output else (None, None)
        code = result.exit_code if result.exit_code is not None else 1
        # 124: TERM at the limit; 137: it ignored TERM and was killed.
        timed_out = code == 124 or (code == 137 and elapsed >= timeout)
        return ExecResult(code, _decode(stdout), _decode(stderr), timed_out)

    def close(self) -> None:
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()  # runs at most once
            self._finalizer = None
            self._container = None


def _decode(data: bytes | None) -> str:
    return data.decode("utf-8", errors="replace") if data else ""


def _remove(client: Any, container_id: str | None, volume_name: str | None) -> None:
    """Remove a sandbox container (forcefully) and its workspace volume; never raises."""
    import docker

    if container_id is not None:
        try:
            client.api.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except Exception as exc:  # at interpreter exit the engine may already be gone
            logger.warning("could not remove sandbox container %s: %s", container_id[:12], exc)
    if volume_name is not None:
        try:
            client.api.remove_volume(volume_name, force=True)
        except docker.errors.NotFound:
            pass
        except Exception as exc:
            logger.warning("could not remove sandbox volume %s: %s", volume_name, exc)
