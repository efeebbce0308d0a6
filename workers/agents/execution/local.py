"""`LocalCommandLineCodeExecutor`: runs blocks as files in a work dir on this machine (spec §6.3,
executor column). Unsafe by nature: the code runs with the worker's own rights."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

from .base import CodeBlock, CommandLineCodeResult
from .commands import (
    POWERSHELL_LANGS,
    TIMEOUT_MSG,
    filename_from_content,
    powershell_on_path,
    python_on_path,
    run_process,
    screen_shell_code,
    silence_pip,
    tmp_code_name,
)
from .extraction import MarkdownCodeExtractor
from .functions import FunctionSpec, build_functions_module, describe_functions

logger = logging.getLogger(__name__)

PYTHON_VARIANTS = ("python", "py")  # compared after lower-casing


class LocalCommandLineCodeExecutor:
    SUPPORTED_LANGUAGES = ["bash", "shell", "sh", "pwsh", "powershell", "ps1", "python", "javascript", "html", "css"]
    # True: run the file; False: only save it ("Code saved to <file>").
    DEFAULT_EXECUTION_POLICY = {
        "bash": True, "shell": True, "sh": True, "pwsh": True, "powershell": True, "ps1": True,
        "python": True, "javascript": False, "html": False, "css": False,
    }

    def __init__(
        self,
        timeout: int = 60,
        virtual_env_context: Any = None,
        work_dir: Path | str = Path("."),
        functions: Sequence[FunctionSpec] = (),
        functions_module: str = "functions",
        execution_policies: dict[str, bool] | None = None,
    ) -> None:
        """``virtual_env_context``: a venv context (``env_exe``, ``bin_path``, as made by
        `venv.EnvBuilder.ensure_directories`): python runs from it and its bin dir leads PATH."""
        if timeout < 1:
            raise ValueError(f"timeout: must be at least 1 second, got {timeout!r}")
        if not functions_module.isidentifier():
            raise ValueError(f"functions_module: {functions_module!r} is not a valid Python module name")
        self._timeout = timeout
        self._venv = virtual_env_context
        self._work_dir = Path(work_dir)
        self._work_dir.mkdir(parents=True, exist_ok=True)
        self._functions = list(functions)
        self._functions_module = functions_module
        self._functions_ready = not self._functions
        self.execution_policies = dict(self.DEFAULT_EXECUTION_POLICY)
        if execution_policies:
            self.execution_policies.update(execution_policies)

    @property
    def timeout(self) -> int:
        return self._timeout

    @property
    def work_dir(self) -> Path:
        return self._work_dir

    @property
    def functions(self) -> list[FunctionSpec]:
        return list(self._functions)

    @property
    def functions_module(self) -> str:
        return self._functions_module

    @property
    def code_extractor(self) -> MarkdownCodeExtractor:
        return MarkdownCodeExtractor()

    def format_functions_for_prompt(self) -> str:
        return describe_functions(self._functions, self._functions_module)

    def restart(self) -> None:
        warnings.warn("LocalCommandLineCodeExecutor has no process to restart; nothing was done.", stacklevel=2)

    def execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CommandLineCodeResult:
        if not self._functions_ready:
            self._write_functions_module()
        return self._run_blocks(code_blocks)

    def _write_functions_module(self) -> None:
        source = build_functions_module(self._functions)
        (self._work_dir / f"{self._functions_module}.py").write_text(source, encoding="utf-8")
        # Import it once so a broken function fails here, not inside the model's code.
        check = self._run_blocks([CodeBlock(code=f"import {self._functions_module}\n", language="python")])
        if check.exit_code != 0:
            raise ValueError(f"functions: the generated module failed to import: {check.output}")
        self._functions_ready = True

    def _run_blocks(self, code_blocks: list[CodeBlock]) -> CommandLineCodeResult:
        output = ""
        exit_code = 0
        files: list[Path] = []
        for block in code_blocks:
            lang = block.language.lower()
            screen_shell_code(lang, block.code)
            code = silence_pip(block.code, lang)
            if lang in PYTHON_VARIANTS:
                lang = "python"
            if lang not in self.SUPPORTED_LANGUAGES:
                exit_code = 1
                output += f"\nunknown language {lang}"
                break
            try:
                filename = filename_from_content(code, self._work_dir)
            except ValueError:
                return CommandLineCodeResult(exit_code=1, output="Filename is not in the workspace")
            if filename is None:
                filename = tmp_code_name(code, "py" if lang == "python" else lang)
            path = (self._work_dir / filename).resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code, encoding="utf-8")
            files.append(path)

            if not self.execution_policies.get(lang, False):
                output += f"Code saved to {path}\n"
                exit_code = 0
                continue

            program = self._venv.env_exe if self._venv is not None and lang == "python" else self._program(lang)
            if program is None:
                exit_code = 1
                output += "\nPowerShell is not installed here (neither pwsh nor powershell is on PATH)"
                break
            result = run_process([program, str(path)], cwd=self._work_dir, timeout=float(self._timeout), env=self._env())
            if result.timed_out:
                output += "\n" + TIMEOUT_MSG
                exit_code = 124  # what coreutils `timeout` reports
                break
            output += result.stderr + result.stdout  # stderr first, as the reference does
            exit_code = result.returncode
            if exit_code != 0:
                break
        return CommandLineCodeResult(exit_code=exit_code, output=output, code_file=str(files[0]) if files else None)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self._venv is not None:
            env["PATH"] = f"{self._venv.bin_path}{os.pathsep}{env.get('PATH', '')}"
        return env

    @staticmethod
    def _program(lang: str) -> str | None:
        if lang == "python":
            return python_on_path()
        if lang in ("bash", "sh"):
            return lang
        if lang == "shell":
            return "sh"
        if lang in POWERSHELL_LANGS:
            return powershell_on_path()
        raise ValueError(f"language: no interpreter for {lang!r}")  # policy says run, but nothing can
