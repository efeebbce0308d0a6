"""Spec §6.4: how `use_docker` is decided, and what happens when Docker is wanted but absent.

"No engine" is real: DOCKER_HOST points at a unix socket in a tmp dir that nobody listens on.
"""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from workers.agents.execution import DockerCommandLineCodeExecutor, LegacyRunner, decide_use_docker, make_code_runner


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("TRUE", True), ("Yes", True), ("t", True),
     ("0", False), ("false", False), ("No", False), ("F", False),
     ("none", None), ("None", None), ("NONE", None)],
)
def test_env_values(monkeypatch: pytest.MonkeyPatch, raw: str, expected: Any) -> None:
    monkeypatch.setenv("AUTOGEN_USE_DOCKER", raw)
    assert decide_use_docker(None) is expected


def test_env_default_is_true(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGEN_USE_DOCKER", raising=False)
    assert decide_use_docker(None) is True


@pytest.mark.parametrize("raw", ["maybe", "", "2", "on"])
def test_env_invalid_values(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("AUTOGEN_USE_DOCKER", raw)
    with pytest.raises(ValueError, match="AUTOGEN_USE_DOCKER"):
        make_code_runner({"work_dir": "unused"})


def test_config_value_wins_over_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTOGEN_USE_DOCKER", "maybe")  # never read
    assert make_code_runner({"work_dir": str(tmp_path), "use_docker": False}).use_docker is False
    assert decide_use_docker("python:3-slim") == "python:3-slim"


@pytest.mark.parametrize("value", ["none", "0"])
def test_env_none_or_false_runs_locally(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    monkeypatch.setenv("AUTOGEN_USE_DOCKER", value)
    runner = make_code_runner({"work_dir": str(tmp_path)})
    assert runner.docker_active is False
    final, text = runner.reply([{"role": "user", "content": "```python\nimport sys\nprint(sys.executable)\n```"}])
    assert text == f"exitcode: 0 (execution succeeded)\nCode output: \n{sys.executable}\n"


@pytest.mark.parametrize("value", [5, {"image": "x"}, [1, 2]])
def test_use_docker_must_be_bool_image_or_list(tmp_path: Path, value: Any) -> None:
    with pytest.raises(ValueError, match="use_docker"):
        make_code_runner({"work_dir": str(tmp_path), "use_docker": value})


@pytest.fixture
def dead_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DOCKER_HOST at a unix socket file that nothing listens on."""
    path = tmp_path / "dead.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()  # the file stays; connecting is refused
    address = f"unix://{path}"
    monkeypatch.setenv("DOCKER_HOST", address)
    return address


def test_docker_wanted_but_absent_raises_at_construction(dead_engine: str, tmp_path: Path) -> None:
    outside = tmp_path / "no-marker"  # i.e. not inside a container
    with pytest.raises(RuntimeError) as caught:
        LegacyRunner({"work_dir": str(tmp_path), "use_docker": True}, container_marker=outside)
    message = str(caught.value)
    assert f"no Docker engine answers at {dead_engine}" in message
    assert "use_docker=False" in message


def test_env_default_also_requires_docker(dead_engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGEN_USE_DOCKER", raising=False)
    with pytest.raises(RuntimeError, match="Docker was requested"):
        LegacyRunner({"work_dir": str(tmp_path)}, container_marker=tmp_path / "no-marker")


def test_inside_a_container_falls_back_to_local_with_a_warning(
    dead_engine: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / ".dockerenv"
    marker.touch()
    with caplog.at_level(logging.WARNING, logger="workers.agents.execution"):
        runner = LegacyRunner({"work_dir": str(tmp_path), "use_docker": True}, container_marker=marker)
    assert runner.docker_active is False
    assert any("running code locally" in r.getMessage() for r in caplog.records)
    final, text = runner.reply([{"role": "user", "content": "```sh\necho local\n```"}])
    assert text == "exitcode: 0 (execution succeeded)\nCode output: \nlocal\n"


def test_docker_executor_without_engine_raises(dead_engine: str, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=f"no Docker engine answers at {dead_engine}"):
        DockerCommandLineCodeExecutor(work_dir=tmp_path)
