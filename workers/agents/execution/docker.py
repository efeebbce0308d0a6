"""`DockerCommandLineCodeExecutor`: one long-lived, hardened container; blocks run with `exec`
under coreutils `timeout` (spec §6.5). The work dir is bind-mounted at /workspace."""

from __future__ import annotations

import atexit
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from .base import CodeBlock, CommandLineCodeResult
from .commands import TIMEOUT_MSG, filename_from_content, silence_pip, tmp_code_name
from .extraction import MarkdownCodeExtractor
from .sandbox import SANDBOX_UID, WORKSPACE, SandboxLimits, connect, default_image, hardened_options

logger = logging.getLogger(__name__)


class DockerCommandLineCodeExecutor:
    DEFAULT_EXECUTION_POLICY = {
        "bash": True, "shell": True, "sh": True, "pwsh": True, "powershell": True, "ps1": True,
        "python": True, "javascript": False, "html": False, "css": False,
    }
    LANGUAGE_ALIASES = {"py": "python", "js": "javascript"}

    def __init__(
        self,
        image: str | None = None,
        container_name: str | None = None,
        timeout: int = 60,
        work_dir: Path | str = Path("."),
        bind_dir: Path | str | None = None,
        auto_remove: bool = True,
        stop_container: bool = True,
        execution_policies: dict[str, bool] | None = None,
        limits: SandboxLimits | None = None,
    ) -> None:
        """``image`` None → PARLEY_SANDBOX_IMAGE, else `parley-sandbox`. ``bind_dir`` is the work dir
        as the Docker engine sees it (differs when this process itself runs in a container).
        ``limits`` defaults to SandboxLimits() running as this process's uid, or uid 1000 for root."""
        if timeout < 1:
            raise ValueError(f"timeout: must be at least 1 second, got {timeout!r}")
        import docker

        work_dir = Path(work_dir)
        created = not work_dir.exists()
        work_dir.mkdir(parents=True, exist_ok=True)
        if created and os.getuid() == 0:
            # The container never runs as root; let its user write the directory we just made.
            os.chown(work_dir, SANDBOX_UID, SANDBOX_UID)
        self._work_dir = work_dir
        self._bind_dir = Path(bind_dir) if bind_dir is not None else work_dir
        self._timeout = timeout
        self._image = image or default_image()
        self.execution_policies = dict(self.DEFAULT_EXECUTION_POLICY)
        if execution_policies:
            self.execution_policies.update(execution_policies)

        client = connect(timeout=timeout + 30)
        try:
            client.images.get(self._image)
        except docker.errors.ImageNotFound:
            logger.info("pulling image %s", self._image)
            client.images.pull(self._image)
        self._client = client
        self._container_name = container_name or f"parley-code-exec-{uuid.uuid4().hex[:12]}"
        if limits is None:
            uid = os.getuid()
            limits = SandboxLimits() if uid == 0 else SandboxLimits(user=f"{uid}:{os.getgid()}")
        self._container = client.containers.create(
            self._image,
            name=self._container_name,
            entrypoint="/bin/sh",
            tty=True,
            auto_remove=auto_remove,
            volumes={str(self._bind_dir.resolve()): {"bind": WORKSPACE, "mode": "rw"}},
            working_dir=WORKSPACE,
            **hardened_options(limits),
        )
        self._container.start()
        self._container.reload()
        if self._container.status != "running":
            logs = self._container.logs().decode("utf-8", errors="replace")
            raise ValueError(f"image: a container from {self._image!r} did not start; its logs: {logs}")
        self._stopped = False
        if stop_container:
            atexit.register(self.stop)

    @property
    def timeout(self) -> int:
        return self._timeout

    @property
    def work_dir(self) -> Path:
        return self._work_dir

    @property
    def bind_dir(self) -> Path:
        return self._bind_dir

    @property
    def container_name(self) -> str:
        return self._container_name

    @property
    def code_extractor(self) -> MarkdownCodeExtractor:
        return MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CommandLineCodeResult:
        if not code_blocks:
            raise ValueError("code_blocks: there are no code blocks to execute")
        outputs: list[str] = []
        files: list[Path] = []
        exit_code = 0
        for block in code_blocks:
            lang = block.language.lower()
            lang = self.LANGUAGE_ALIASES.get(lang, lang)
            if lang not in self.DEFAULT_EXECUTION_POLICY:
                outputs.append(f"Unsupported language {lang}\n")
                exit_code = 1
                break
            code = silence_pip(block.code, lang)
            try:
                filename = filename_from_content(code, self._work_dir)
            except ValueError:
                outputs.append("Filename is not in the workspace")
                exit_code = 1
                break
            if not filename:
                filename = tmp_code_name(code, lang)
            path = self._work_dir / filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code, encoding="utf-8")
            files.append(path)
            if not self.execution_policies.get(lang, False):
                outputs.append(f"Code saved to {path}\n")
                continue
            argv = ["timeout", str(self._timeout), _program(lang), filename]
            result = self._container.exec_run(argv, workdir=WORKSPACE)
            exit_code = result.exit_code
            output = result.output.decode("utf-8", errors="replace")
            if exit_code == 124:
                output += "\n" + TIMEOUT_MSG
            outputs.append(output)
            if exit_code != 0:
                break
        return CommandLineCodeResult(exit_code=exit_code, output="".join(outputs), code_file=str(files[0]) if files else None)

    def restart(self) -> None:
        self._container.restart(timeout=1)
        self._container.reload()
        if self._container.status != "running":
            raise RuntimeError(f"container {self._container_name} did not come back after a restart")

    def stop(self) -> None:
        """Stop the container (removed too when auto_remove). Idempotent."""
        import docker

        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        try:
            # The shell entrypoint ignores SIGTERM as PID 1; waiting for it only wastes seconds.
            self._container.stop(timeout=0)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: already being removed
                raise
        self._client.close()

    def __enter__(self) -> "DockerCommandLineCodeExecutor":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def _program(lang: str) -> str:
    if lang == "python":
        return "python"
    if lang == "shell":
        return "sh"
    if lang in ("ps1", "powershell"):
        return "pwsh"
    return lang
