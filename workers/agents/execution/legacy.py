"""`LegacyRunner`: the `work_dir` / `use_docker` / `timeout` flavour of code execution
(spec §6.3 legacy column and §6.4), with Parley's warm container per conversation for Docker."""

from __future__ import annotations

import logging
import os
import posixpath
import sys
from pathlib import Path
from typing import Any

from .base import CodeResult
from .commands import TIMEOUT_MSG, run_process, tmp_code_name
from .extraction import UNKNOWN, extract_code, infer_lang
from .sandbox import DOCKER_MARKER, WORKSPACE, connect, inside_container, resolve_image
from .warm import WarmContainer
from .window import WindowRunner

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600
# The reference keeps legacy files in a folder inside the installed package (spec §6.4, §10 #7).
DEFAULT_WORK_DIR = Path(__file__).resolve().parent.parent / "extensions"
LEGACY_KEYS = {"work_dir", "use_docker", "timeout", "filename", "last_n_messages"}
_TRUTHY = {"1", "true", "yes", "t"}
_FALSY = {"0", "false", "no", "f"}


def decide_use_docker(use_docker: Any) -> Any:
    """The config's `use_docker`, or when it is None the AUTOGEN_USE_DOCKER variable (default True)."""
    if use_docker is not None:
        return use_docker
    raw = os.environ.get("AUTOGEN_USE_DOCKER", "True")
    value = raw.lower()
    if value in _TRUTHY:
        return True
    if value in _FALSY:
        return False
    if value == "none":
        return None
    raise ValueError(
        f"AUTOGEN_USE_DOCKER: invalid value {raw!r}; use 1/true/yes/t, 0/false/no/f or none (any case)"
    )


class LegacyRunner(WindowRunner):
    """Runs the blocks of one message the legacy way. One instance per agent and conversation.

    ``container_marker`` is the file whose presence means "this process runs in a container".
    """

    def __init__(self, code_execution_config: dict[str, Any], *, container_marker: Path = DOCKER_MARKER) -> None:
        super().__init__()
        if not isinstance(code_execution_config, dict):
            raise ValueError(f"code_execution_config: expected a dict, got {type(code_execution_config).__name__}")
        unknown = sorted(set(code_execution_config) - LEGACY_KEYS)
        if unknown:
            raise ValueError(f"code_execution_config: unknown key(s) {unknown}; expected some of {sorted(LEGACY_KEYS)}")
        # A private copy: the caller's dict is never changed (spec §6.2).
        self.config = dict(code_execution_config)
        work_dir = self.config.get("work_dir")
        self.work_dir = Path(work_dir) if work_dir is not None else DEFAULT_WORK_DIR
        timeout = self.config.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ValueError(f"code_execution_config['timeout']: expected a positive number of seconds, got {timeout!r}")
        self.timeout: float = timeout or DEFAULT_TIMEOUT
        self.filename: str | None = self.config.get("filename")
        self.last_n_messages = self.config.get("last_n_messages", "auto")

        self.use_docker = decide_use_docker(self.config.get("use_docker"))
        if self.use_docker and not _is_image_choice(self.use_docker):
            raise ValueError(
                f"code_execution_config['use_docker']: expected a bool, None, an image name or a list of "
                f"image names, got {self.use_docker!r}"
            )
        self._client: Any = None
        self._container: WarmContainer | None = None
        # Decided once, here: a runner never drifts between Docker and local execution.
        self._docker = bool(self.use_docker)
        if self._docker:
            try:
                self._client = connect(timeout=self.timeout + 30)
            except RuntimeError:
                if not inside_container(container_marker):
                    raise
                # The reference silently runs locally inside a container; Parley at least says so.
                logger.warning(
                    "use_docker=%r but no Docker engine answers; running code locally because this "
                    "process is inside a container", self.use_docker,
                )
                self._docker = False

    @property
    def docker_active(self) -> bool:
        return self._docker

    @property
    def container_id(self) -> str | None:
        return self._container.container_id if self._container is not None else None

    def _run_message(self, content: Any) -> CodeResult | None:
        code_blocks = extract_code(content)
        if len(code_blocks) == 1 and code_blocks[0][0] == UNKNOWN:
            return None
        exit_code, logs = self.execute_code_blocks(code_blocks)
        return CodeResult(exit_code=exit_code, output=logs)

    def execute_code_blocks(self, code_blocks: list[tuple[str, str]]) -> tuple[int, str]:
        """Run ``[(lang, code), ...]`` in order; stop at the first non-zero exit."""
        logs_all = ""
        exit_code = 0
        for lang, code in code_blocks:
            if not lang:
                lang = infer_lang(code)
            if lang in ("bash", "shell", "sh"):
                exit_code, logs = self.run_code(code, lang=lang, filename=self.filename)
            elif lang in ("python", "Python", "py"):
                filename = self.filename
                first_line = code.split("\n", 1)[0]
                if first_line.startswith("# filename: "):
                    filename = first_line[len("# filename: "):].strip() or filename
                exit_code, logs = self.run_code(code, lang="python", filename=filename)
            else:
                exit_code, logs = 1, f"unknown language {lang}"
            logs_all += "\n" + logs
            if exit_code != 0:
                break
        return exit_code, logs_all

    def run_code(self, code: str, lang: str = "python", filename: str | None = None) -> tuple[int, str]:
        """Write ``code`` to a file and run it; returns ``(exit_code, logs)`` in the legacy shape."""
        named = filename is not None
        if filename is None:
            filename = tmp_code_name(code, "py" if lang.startswith("python") else lang)
        if self._docker:
            return self._run_in_container(code, lang, filename, named)
        return self._run_locally(code, lang, filename, named)

    def _run_locally(self, code: str, lang: str, filename: str, named: bool) -> tuple[int, str]:
        path = self.work_dir / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
        program = sys.executable if lang.startswith("python") else _shell_program(lang)
        try:
            result = run_process([program, filename], cwd=self.work_dir, timeout=self.timeout)
        finally:
            if not named:
                path.unlink(missing_ok=True)
        if result.timed_out:
            return 1, TIMEOUT_MSG
        if result.returncode == 0:
            return 0, result.stdout
        logs = result.stderr
        if not named:
            # Python reports the real path (symlinks resolved); strip both spellings, then the name.
            for spelling in (str(path.resolve()), str(path.absolute())):
                logs = logs.replace(spelling, "")
            logs = logs.replace(filename, "")
        else:
            logs = logs.replace(str(self.work_dir.absolute()) + os.sep, "")
        return result.returncode, logs

    def _run_in_container(self, code: str, lang: str, filename: str, named: bool) -> tuple[int, str]:
        inside = posixpath.normpath(posixpath.join(WORKSPACE, filename))
        if not inside.startswith(WORKSPACE + "/"):
            return 1, "Filename is not in the workspace"
        relative = inside[len(WORKSPACE) + 1:]
        if named:  # the reference keeps named files in work_dir; so does Parley, on the worker side too
            host_path = self.work_dir / filename
            host_path.parent.mkdir(parents=True, exist_ok=True)
            host_path.write_text(code, encoding="utf-8")
        container = self._warm_container()
        container.put_file(relative, code)
        program = "python3" if lang.startswith("python") else _shell_program(lang)
        try:
            result = container.run([program, inside], timeout=self.timeout)
        finally:
            if not named:
                container.remove_file(relative)
        if result.timed_out:
            return 1, TIMEOUT_MSG
        if result.exit_code == 0:
            return 0, result.stdout
        logs = result.stderr
        logs = logs.replace(inside, "").replace(relative, "") if not named else logs.replace(WORKSPACE + "/", "")
        return result.exit_code, logs

    def _warm_container(self) -> WarmContainer:
        if self._client is None:  # closed earlier; a later block reconnects rather than run locally
            self._client = connect(timeout=self.timeout + 30)
        if self._container is None:
            image = resolve_image(self._client, self.use_docker)
            seed = self.work_dir if self.work_dir.is_dir() else None
            self._container = WarmContainer(self._client, image, seed_dir=seed)
        return self._container

    def close(self) -> None:
        """Remove the conversation's container, if one was started. Safe to call repeatedly."""
        if self._container is not None:
            self._container.close()
            self._container = None
        if self._client is not None:
            self._client.close()
            self._client = None


def _is_image_choice(value: Any) -> bool:
    if value is True or isinstance(value, str):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(i, str) for i in value)


def _shell_program(lang: str) -> str:
    return "sh" if lang == "shell" else lang
