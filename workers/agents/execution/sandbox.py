"""Talking to the Docker engine for code execution: connecting with a clear error, choosing an
image, the hardening every Parley sandbox container gets, and tar helpers for `put_archive`.

Only the `docker` SDK is used; nothing here shells out to the docker CLI.
"""

from __future__ import annotations

import io
import logging
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

logger = logging.getLogger(__name__)

IMAGE_ENV = "PARLEY_SANDBOX_IMAGE"
SANDBOX_IMAGE = "parley-sandbox"
PUBLIC_PYTHON_IMAGES = ("python:3-slim", "python:3")
WORKSPACE = "/workspace"
SANDBOX_HOME = "/home/sandbox"
SANDBOX_UID = 1000
LABEL = "org.parley.sandbox"  # marks every container/volume Parley starts, for sweeping orphans
DOCKER_MARKER = Path("/.dockerenv")  # Docker's marker file: "this process runs in a container"


def default_image() -> str:
    return os.environ.get(IMAGE_ENV) or SANDBOX_IMAGE


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: float = 60) -> Any:
    """A pinged `docker.DockerClient`, or RuntimeError saying where no engine answered."""
    import docker  # imported lazily: local-only deployments never need the engine

    client = None
    try:
        client = docker.from_env(timeout=int(max(timeout, 5)))
        client.ping()
        return client
    except Exception as exc:  # any failure to reach the engine reads the same to the user
        if client is not None:
            client.close()
        raise RuntimeError(
            f"Docker was requested for code execution but no Docker engine answers at {engine_address()} "
            f"({exc.__class__.__name__}: {exc}); set use_docker=False to run code locally (unsafe), "
            "or start Docker / point DOCKER_HOST at a running engine."
        ) from exc


def engine_answers() -> bool:
    try:
        connect(timeout=5).close()
        return True
    except RuntimeError:
        return False


def inside_container(marker: Path = DOCKER_MARKER) -> bool:
    return marker.exists()


def image_present(client: Any, name: str) -> bool:
    import docker

    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def resolve_image(client: Any, use_docker: Any) -> str:
    """The image for the legacy runner's `use_docker` value (True, an image name, or a list)."""
    import docker

    if use_docker is True:
        if os.environ.get(IMAGE_ENV):
            local, pullable = [os.environ[IMAGE_ENV]], [os.environ[IMAGE_ENV]]
        else:  # the locally built sandbox first; it cannot be pulled, the public images can
            local, pullable = [SANDBOX_IMAGE, *PUBLIC_PYTHON_IMAGES], list(PUBLIC_PYTHON_IMAGES)
    elif isinstance(use_docker, str):
        local, pullable = [use_docker], [use_docker]
    elif isinstance(use_docker, (list, tuple)) and use_docker and all(isinstance(i, str) for i in use_docker):
        local, pullable = list(use_docker), list(use_docker)
    else:
        raise ValueError(f"use_docker: expected True, an image name or a list of image names, got {use_docker!r}")

    for name in local:
        if image_present(client, name):
            return name
    for name in pullable:
        try:
            logger.info("pulling sandbox image %s", name)
            client.images.pull(name)
            return name
        except docker.errors.DockerException as exc:
            logger.warning("could not pull image %s: %s", name, exc)
    raise RuntimeError(
        f"use_docker: none of the images {local} is available and none could be pulled; "
        "build the sandbox with `bash workers/sandbox/build.sh`."
    )


@dataclass(frozen=True)
class SandboxLimits:
    """Resource caps and identity for sandbox containers."""

    mem_limit: str = "512m"
    nano_cpus: int = 1_000_000_000  # one CPU
    pids_limit: int = 256
    user: str = f"{SANDBOX_UID}:{SANDBOX_UID}"
    tmp_size: str = "64m"
    home_size: str = "256m"
    environment: dict[str, str] = field(default_factory=dict)


def hardened_options(limits: SandboxLimits) -> dict[str, Any]:
    """`containers.create` keyword arguments applied to every sandbox container.

    The root filesystem is read-only; callers add the writable work dir at /workspace. /tmp and the
    home directory are small tmpfs mounts (exec allowed, so user-installed packages import).
    """
    tmpfs_common = "rw,exec,nosuid,nodev"
    uid, _, gid = limits.user.partition(":")
    return {
        "network_mode": "none",
        "mem_limit": limits.mem_limit,
        "memswap_limit": limits.mem_limit,  # no swap beyond the memory cap
        "nano_cpus": limits.nano_cpus,
        "pids_limit": limits.pids_limit,
        "user": limits.user,
        "read_only": True,
        "security_opt": ["no-new-privileges"],
        "cap_drop": ["ALL"],
        "tmpfs": {
            "/tmp": f"{tmpfs_common},size={limits.tmp_size},mode=1777",
            SANDBOX_HOME: f"{tmpfs_common},size={limits.home_size},mode=0755,uid={uid},gid={gid or uid}",
        },
        "environment": {"HOME": SANDBOX_HOME, **limits.environment},
        "labels": {LABEL: "1"},
    }


def tar_bytes(files: dict[str, bytes], uid: int = SANDBOX_UID, gid: int = SANDBOX_UID) -> bytes:
    """A tar archive of ``{relative path: content}``, with parent directories, owned by uid:gid."""
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        made: set[str] = set()
        for rel, data in files.items():
            parts = Path(rel).parts[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in made:
                    made.add(directory)
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, 0o755, uid, gid, now
                    archive.addfile(info)
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.uid, info.gid, info.mtime = len(data), 0o644, uid, gid, now
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def collect_dir(root: Path, max_bytes: int) -> dict[str, bytes]:
    """Regular files under ``root`` (symlinks skipped), stopping before ``max_bytes`` in total."""
    files: dict[str, bytes] = {}
    total = 0
    if not root.is_dir():
        return files
    for path in sorted(_walk_files(root)):
        size = path.stat().st_size
        if total + size > max_bytes:
            logger.warning("work dir %s exceeds %d bytes; the rest is not copied into the sandbox", root, max_bytes)
            break
        files[path.relative_to(root).as_posix()] = path.read_bytes()
        total += size
    return files


def _walk_files(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path
