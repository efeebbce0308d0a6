"""Helpers shared by the command-line executors: file naming, pip silencing, the safety screen,
interpreter lookup, and running a process with a hard timeout."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from hashlib import md5
from pathlib import Path

TIMEOUT_MSG = "Timeout"
SHELL_LANGS = ("bash", "shell", "sh")
POWERSHELL_LANGS = ("pwsh", "powershell", "ps1")

# A first-line comment naming the file, with or without "filename:" (spec §6.3, executor column).
_FILENAME_PATTERNS = [
    re.compile(r"^<!-- (filename:)?(.+?) -->", re.DOTALL),
    re.compile(r"^/\* (filename:)?(.+?) \*/", re.DOTALL),
    re.compile(r"^// (filename:)?(.+?)$", re.DOTALL),
    re.compile(r"^# (filename:)?(.+?)$", re.DOTALL),
]

# Shell code matching any of these is refused before it is written anywhere.
_DANGEROUS_SHELL = [
    (re.compile(r"\brm\s+-rf\b"), "'rm -rf' is not allowed"),
    (re.compile(r"\bmv\s+.*\s+/dev/null"), "moving files to /dev/null is not allowed"),
    (re.compile(r"\bdd\b"), "'dd' is not allowed"),
    (re.compile(r">\s*/dev/sd[a-z][1-9]?"), "writing to a raw disk device is not allowed"),
    (re.compile(r":\(\)\{\s*:\|:&\s*\};:"), "fork bombs are not allowed"),
]


def tmp_code_name(code: str, extension: str) -> str:
    """The generated file name for a block: ``tmp_code_<md5 of the code>.<extension>``."""
    return f"tmp_code_{md5(code.encode()).hexdigest()}.{extension}"


def filename_from_content(code: str, workspace: Path) -> str | None:
    """The file a block names on its first line, relative to ``workspace``.

    Raises ValueError when the named path resolves outside the workspace.
    """
    first_line = code.split("\n")[0].strip()
    for pattern in _FILENAME_PATTERNS:
        match = pattern.match(first_line)
        if match is None:
            continue
        path = Path(match.group(2).strip())
        if not path.is_absolute():
            path = workspace / path
        path = path.resolve()
        return str(path.relative_to(workspace.resolve()))  # ValueError when outside
    return None


def silence_pip(code: str, lang: str) -> str:
    """Add ``-qqq`` to lines that start a pip install, so installs do not flood the output."""
    if lang == "python":
        start = re.compile(r"^! ?pip install")
    elif lang in SHELL_LANGS + POWERSHELL_LANGS:
        start = re.compile(r"^pip install")
    else:
        return code
    lines = code.split("\n")
    for i, line in enumerate(lines):
        match = start.search(line)
        if match is not None and "-qqq" not in line:
            lines[i] = line.replace(match.group(0), match.group(0) + " -qqq", 1)
    return "\n".join(lines)


def screen_shell_code(lang: str, code: str) -> None:
    """Raise ValueError for shell code matching a known destructive pattern."""
    if lang not in SHELL_LANGS:
        return
    for pattern, reason in _DANGEROUS_SHELL:
        if pattern.search(code):
            raise ValueError(f"code: potentially dangerous shell command detected: {reason}")


def python_on_path() -> str:
    """The `python` found on PATH; falls back to `python3`, then to this interpreter."""
    return shutil.which("python") or shutil.which("python3") or sys.executable


def powershell_on_path() -> str | None:
    return shutil.which("pwsh") or shutil.which("powershell")


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


def run_process(cmd: list[str], cwd: Path | str, timeout: float, env: dict[str, str] | None = None) -> ProcessResult:
    """Run ``cmd`` with captured text output, killing its whole process group on timeout.

    A new session keeps grandchildren (e.g. a shell's children) in the group, so a timeout never
    leaves a process holding the pipes open.
    """
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        return ProcessResult(proc.returncode, stdout, stderr, timed_out=False)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            stdout, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # something escaped the group and holds a pipe
            proc.kill()
            stdout, stderr = "", ""
        return ProcessResult(proc.returncode if proc.returncode is not None else -9, stdout, stderr, timed_out=True)
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
