"""Code execution against the real Docker engine and the `parley-sandbox` image.

The legacy runner keeps ONE warm container per conversation (Parley design decision); most tests
share one runner, hence one container, to stay fast. §6.5 covers DockerCommandLineCodeExecutor.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from workers.agents.execution import DockerCommandLineCodeExecutor, LegacyRunner, make_code_runner
from workers.agents.execution.sandbox import IMAGE_ENV, LABEL, SANDBOX_IMAGE, resolve_image

pytestmark = pytest.mark.docker


def ask(runner, content: str) -> str:
    final, text = runner.reply([{"role": "user", "content": content, "name": "coder"}])
    assert final is True
    return text


def py(code: str) -> str:
    return f"```python\n{code}\n```"


def sh(code: str) -> str:
    return f"```sh\n{code}\n```"


def listed(docker_client, **filters: str) -> list[dict[str, Any]]:
    """Containers matching ``filters``; the low-level call, so a removal mid-listing cannot race it."""
    return docker_client.api.containers(all=True, filters=filters)


def wait_gone(docker_client, timeout: float = 5, **filters: str) -> None:
    """Assert no container matches; auto_remove may need a moment after a stop."""
    deadline = time.monotonic() + timeout
    while listed(docker_client, **filters) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert listed(docker_client, **filters) == []


def assert_gone(docker_client, container_id: str) -> None:
    assert listed(docker_client, id=container_id) == []


def assert_hardened(attrs: dict[str, Any]) -> None:
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == 512 * 1024 * 1024 and host["MemorySwap"] == host["Memory"]
    assert host["NanoCpus"] == 1_000_000_000
    assert host["PidsLimit"] == 256
    assert attrs["Config"]["User"] not in ("", "0", "root", "0:0")


@pytest.fixture(scope="module")
def runner(sandbox_image: str, docker_client, tmp_path_factory) -> Iterator[LegacyRunner]:
    work_dir = tmp_path_factory.mktemp("legacy-docker")
    (work_dir / "data.txt").write_text("seeded\n")  # present before the container starts
    runner = make_code_runner({"work_dir": str(work_dir), "use_docker": sandbox_image, "timeout": 20})
    yield runner
    container_id = runner.container_id
    runner.close()
    if container_id:
        assert_gone(docker_client, container_id)


def test_block_runs_in_the_hardened_sandbox(runner: LegacyRunner, docker_client) -> None:
    assert runner.docker_active
    code = "import os, pathlib\nprint(os.getuid(), os.getcwd(), pathlib.Path('data.txt').read_text().strip())"
    assert ask(runner, py(code)) == "exitcode: 0 (execution succeeded)\nCode output: \n1000 /workspace seeded\n"
    container = docker_client.containers.get(runner.container_id)
    assert container.labels.get(LABEL) == "1"
    assert_hardened(container.attrs)


def test_files_and_packages_persist_between_blocks(runner: LegacyRunner) -> None:
    install = (
        "import os, site\n"
        "target = site.getusersitepackages()\n"
        "os.makedirs(target, exist_ok=True)\n"
        "open(os.path.join(target, 'parley_probe.py'), 'w').write('ANSWER = 1\\n')"
    )
    first = py("# filename: helper.py\nVALUE = 41") + "\n" + py(install)
    assert ask(runner, first) == "exitcode: 0 (execution succeeded)\nCode output: \n\n"
    assert (runner.work_dir / "helper.py").read_text() == "# filename: helper.py\nVALUE = 41"  # kept on the worker too

    second = py("import helper, parley_probe\nprint(helper.VALUE + parley_probe.ANSWER)")
    assert ask(runner, second) == "exitcode: 0 (execution succeeded)\nCode output: \n42\n"
    # Temporary files were removed after their runs; only this script's own file is present.
    listing = ask(runner, sh("ls -A /workspace")).split("Code output: \n", 1)[1].split()
    assert [name for name in listing if not name.endswith(".sh")] == ["__pycache__", "data.txt", "helper.py"]
    assert len([name for name in listing if name.startswith("tmp_code_")]) == 1


def test_network_is_unreachable(runner: LegacyRunner) -> None:
    code = "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3)"
    text = ask(runner, py(code))
    assert text.startswith("exitcode: 1 (execution failed)")
    assert "Network is unreachable" in text


def test_root_filesystem_is_read_only(runner: LegacyRunner) -> None:
    text = ask(runner, sh("touch /usr/local/owned"))
    assert text.startswith("exitcode: 1 (execution failed)") and "Read-only file system" in text
    assert ask(runner, sh("touch \"$HOME/ok\" /tmp/ok /workspace/ok && echo writable")).endswith("\nwritable\n")


def test_errors_are_stderr_without_the_temp_path(runner: LegacyRunner) -> None:
    text = ask(runner, py("print('noise')\nraise KeyError('k')"))
    assert text.startswith("exitcode: 1 (execution failed)\nCode output: \nTraceback")
    assert 'File "", line 2' in text and "noise" not in text and "/workspace" not in text


def test_unknown_language_and_stop_at_first_failure(runner: LegacyRunner) -> None:
    assert ask(runner, "```python3\nprint(1)\n```") == "exitcode: 1 (execution failed)\nCode output: \nunknown language python3"
    text = ask(runner, sh("exit 3") + "\n" + sh("echo never"))
    assert text == "exitcode: 3 (execution failed)\nCode output: \n"


def test_timeout_and_close_remove_the_container(sandbox_image: str, docker_client, tmp_path: Path) -> None:
    runner = make_code_runner({"work_dir": str(tmp_path), "use_docker": sandbox_image, "timeout": 1})
    assert runner.container_id is None  # started lazily, on the first block
    assert ask(runner, py("import time\ntime.sleep(30)")) == "exitcode: 1 (execution failed)\nCode output: \nTimeout"
    container_id = runner.container_id
    volumes = [m["Name"] for m in docker_client.containers.get(container_id).attrs["Mounts"] if m["Type"] == "volume"]
    runner.close()
    runner.close()  # idempotent
    assert_gone(docker_client, container_id)
    assert volumes and docker_client.volumes.list(filters={"name": volumes[0]}) == []

    # The agent closes runners when a conversation pauses; the next block starts a fresh container.
    assert ask(runner, sh("echo again")) == "exitcode: 0 (execution succeeded)\nCode output: \nagain\n"
    assert runner.docker_active and runner.container_id not in (None, container_id)
    second = runner.container_id
    runner.close()
    assert_gone(docker_client, second)


def test_image_resolution_prefers_local_images(sandbox_image: str, docker_client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(IMAGE_ENV, sandbox_image)
    assert resolve_image(docker_client, True) == sandbox_image
    assert resolve_image(docker_client, sandbox_image) == sandbox_image
    # A list: the first image present locally wins, before any pull is tried.
    assert resolve_image(docker_client, ["parley-test-absent-image:none", sandbox_image]) == sandbox_image
    monkeypatch.delenv(IMAGE_ENV)
    if sandbox_image == SANDBOX_IMAGE:
        assert resolve_image(docker_client, True) == SANDBOX_IMAGE


# ---- DockerCommandLineCodeExecutor (spec §6.5) -----------------------------------------------------

@pytest.fixture(scope="module")
def docker_executor(sandbox_image: str, docker_client, tmp_path_factory) -> Iterator[DockerCommandLineCodeExecutor]:
    work_dir = tmp_path_factory.mktemp("executor") / "ws"  # created by the executor
    executor = DockerCommandLineCodeExecutor(image=sandbox_image, work_dir=work_dir, timeout=2)
    yield executor
    executor.stop()


def test_executor_runs_blocks_in_its_container(docker_executor: DockerCommandLineCodeExecutor) -> None:
    runner = make_code_runner({"executor": docker_executor})
    code = "import os, sys\nprint('err', file=sys.stderr)\nprint('hello', os.getuid())"
    text = ask(runner, py(code))
    assert text.startswith("exitcode: 0 (execution succeeded)\nCode output: ")
    # One combined stream; the engine reads stdout and stderr separately, so their order may vary.
    assert sorted(text.split("Code output: ", 1)[1].splitlines()) == ["err", "hello 1000"]
    assert (docker_executor.work_dir / f"tmp_code_{hashlib.md5(code.encode()).hexdigest()}.python").read_text() == code
    assert ask(runner, "```py\nprint(1)\n```\n" + sh("echo two")) == "exitcode: 0 (execution succeeded)\nCode output: 1\ntwo\n"


def test_executor_errors(docker_executor: DockerCommandLineCodeExecutor) -> None:
    runner = make_code_runner({"executor": docker_executor})
    assert ask(runner, "```rust\nfn main() {}\n```") == "exitcode: 1 (execution failed)\nCode output: Unsupported language rust\n"
    assert ask(runner, py("# ../out.py\nprint(1)")) == "exitcode: 1 (execution failed)\nCode output: Filename is not in the workspace"
    assert ask(runner, sh("sleep 30")) == "exitcode: 124 (execution failed)\nCode output: \nTimeout"
    assert ask(runner, "```js\nconsole.log(1)\n```").startswith("exitcode: 0 (execution succeeded)\nCode output: Code saved to ")


def test_named_docker_executor_is_owned_by_the_runner(sandbox_image: str, docker_client, tmp_path: Path) -> None:
    options = {"image": sandbox_image, "work_dir": str(tmp_path / "ws"), "timeout": 5}
    runner = make_code_runner({"executor": "commandline-docker", "commandline-docker": options})
    first = runner.executor.container_name
    assert ask(runner, sh("echo one")) == "exitcode: 0 (execution succeeded)\nCode output: one\n"
    runner.close()  # stops (and so removes) the container it built
    assert ask(runner, sh("echo two")) == "exitcode: 0 (execution succeeded)\nCode output: two\n"
    second = runner.executor.container_name
    assert second != first
    runner.close()
    for name in (first, second):
        wait_gone(docker_client, name=f"^/{name}$")


def test_executor_container_is_hardened_and_stops(sandbox_image: str, docker_client, tmp_path: Path) -> None:
    with DockerCommandLineCodeExecutor(image=sandbox_image, work_dir=tmp_path / "ws", container_name=f"parley-test-{uuid.uuid4().hex[:12]}") as executor:
        container = docker_client.containers.get(executor.container_name)
        assert container.attrs["HostConfig"]["AutoRemove"] is True
        assert_hardened(container.attrs)
        executor.restart()
        assert docker_client.containers.get(executor.container_name).status == "running"
    wait_gone(docker_client, id=container.id)  # auto_remove: stopping removed it
