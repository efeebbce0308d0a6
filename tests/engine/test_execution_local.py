"""Spec §6.3: every row of the two-back-ends table, run locally through `make_code_runner`.

"legacy" is `{"work_dir", "use_docker": False, "timeout"}`; "executor" is a
LocalCommandLineCodeExecutor under the `executor` key. Both go through `runner.reply(messages)`.
"""

from __future__ import annotations

import hashlib
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from workers.agents.execution import (
    CodeBlock,
    LocalCommandLineCodeExecutor,
    make_code_runner,
)
from workers.agents.execution.legacy import DEFAULT_TIMEOUT, DEFAULT_WORK_DIR


def fenced(*blocks: tuple[str, str]) -> str:
    return "Here you go:\n" + "\n".join(f"```{lang}\n{code}\n```" for lang, code in blocks)


def legacy(tmp_path: Path, timeout: float = 10, **extra: Any):
    return make_code_runner({"work_dir": str(tmp_path), "use_docker": False, "timeout": timeout, **extra})


def executor(tmp_path: Path, timeout: int = 10, **options: Any):
    return make_code_runner({"executor": LocalCommandLineCodeExecutor(timeout=timeout, work_dir=tmp_path, **options)})


def reply(runner, *blocks: tuple[str, str]) -> str:
    final, text = runner.reply([{"role": "user", "content": fenced(*blocks), "name": "coder"}])
    assert final is True
    return text


# ---- output shapes ---------------------------------------------------------------------------------

def test_python_output(tmp_path: Path) -> None:
    block = ("python", "print('hello')\nprint(2)")
    assert reply(legacy(tmp_path), block) == "exitcode: 0 (execution succeeded)\nCode output: \nhello\n2\n"
    assert reply(executor(tmp_path), block) == "exitcode: 0 (execution succeeded)\nCode output: hello\n2\n"


def test_two_blocks(tmp_path: Path) -> None:
    blocks = [("python", "print('a')"), ("sh", "echo b")]
    assert reply(legacy(tmp_path), *blocks).endswith("Code output: \na\n\nb\n")
    assert reply(executor(tmp_path), *blocks).endswith("Code output: a\nb\n")


def test_success_with_stderr(tmp_path: Path) -> None:
    block = ("python", "import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert reply(legacy(tmp_path), block).endswith("Code output: \nout\n")
    assert reply(executor(tmp_path), block).endswith("Code output: err\nout\n")


def test_error_output(tmp_path: Path) -> None:
    code = "print('before')\nraise RuntimeError('boom')"
    block = ("python", code)
    text = reply(legacy(tmp_path), block)
    assert text.startswith("exitcode: 1 (execution failed)\nCode output: \nTraceback")
    assert 'File "", line 2' in text and "RuntimeError: boom" in text
    assert "before" not in text and "tmp_code_" not in text  # stderr only, path stripped

    text = reply(executor(tmp_path), block)
    tmp_file = tmp_path.resolve() / f"tmp_code_{hashlib.md5(code.encode()).hexdigest()}.py"
    assert text.startswith("exitcode: 1 (execution failed)\nCode output: Traceback")
    assert f'File "{tmp_file}", line 2' in text
    assert text.endswith("before\n")  # stderr, then stdout


def test_first_of_two_blocks_fails(tmp_path: Path) -> None:
    blocks = [("python", "import sys\nsys.exit(3)"), ("python", "print('never')")]
    assert reply(legacy(tmp_path), *blocks) == "exitcode: 3 (execution failed)\nCode output: \n"
    assert reply(executor(tmp_path), *blocks) == "exitcode: 3 (execution failed)\nCode output: "


def test_unsupported_tag(tmp_path: Path) -> None:
    expected = "exitcode: 1 (execution failed)\nCode output: \nunknown language rust"
    assert reply(legacy(tmp_path), ("rust", "fn main() {}")) == expected
    assert reply(executor(tmp_path), ("rust", "fn main() {}")) == expected


def test_timeout(tmp_path: Path) -> None:
    block = ("python", "import time\ntime.sleep(30)")
    assert reply(legacy(tmp_path, timeout=1), block) == "exitcode: 1 (execution failed)\nCode output: \nTimeout"
    assert reply(executor(tmp_path, timeout=1), block) == "exitcode: 124 (execution failed)\nCode output: \nTimeout"


def test_timeout_kills_the_shells_children(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    started = time.monotonic()
    runner = executor(tmp_path, timeout=1)
    assert reply(runner, ("sh", f"(sleep 1.5 && touch {marker}) &\nsleep 30")).startswith("exitcode: 124")
    time.sleep(max(0.0, 2.2 - (time.monotonic() - started)))  # past the background child's deadline
    assert not marker.exists()


def test_default_timeouts(tmp_path: Path) -> None:
    assert legacy(tmp_path, timeout=None).timeout == DEFAULT_TIMEOUT == 600
    assert LocalCommandLineCodeExecutor(work_dir=tmp_path).timeout == 60
    with pytest.raises(ValueError, match="timeout"):
        LocalCommandLineCodeExecutor(timeout=0, work_dir=tmp_path)


# ---- languages -------------------------------------------------------------------------------------

@pytest.mark.parametrize("tag", ["python", "Python", "py"])
def test_legacy_python_tags_use_the_engines_interpreter(tmp_path: Path, tag: str) -> None:
    text = reply(legacy(tmp_path), (tag, "import sys\nprint(sys.executable)"))
    assert text == f"exitcode: 0 (execution succeeded)\nCode output: \n{sys.executable}\n"


@pytest.mark.parametrize("tag", ["bash", "shell", "sh"])
def test_legacy_shell_tags(tmp_path: Path, tag: str) -> None:
    assert reply(legacy(tmp_path), (tag, "echo from-$0")).startswith("exitcode: 0 (execution succeeded)\nCode output: \nfrom-")


@pytest.mark.parametrize("tag", ["python3", "PY", "javascript"])
def test_legacy_other_tags_are_unknown(tmp_path: Path, tag: str) -> None:
    assert reply(legacy(tmp_path), (tag, "print(1)")).endswith(f"Code output: \nunknown language {tag}")


def test_legacy_untagged_blocks_are_inferred(tmp_path: Path) -> None:
    text = reply(legacy(tmp_path), ("", "print(6 * 7)"))
    assert text == "exitcode: 0 (execution succeeded)\nCode output: \n42\n"


@pytest.mark.parametrize("tag", ["PYTHON", "Py", "SH", "Bash", "shell"])
def test_executor_lowercases_tags(tmp_path: Path, tag: str) -> None:
    code = "print('ok')" if tag.lower().startswith("py") else "echo ok"
    assert reply(executor(tmp_path), (tag, code)) == "exitcode: 0 (execution succeeded)\nCode output: ok\n"


@pytest.mark.parametrize(("tag", "ext"), [("javascript", "javascript"), ("html", "html"), ("CSS", "css")])
def test_executor_only_saves_web_languages(tmp_path: Path, tag: str, ext: str) -> None:
    code = "body { color: red; }" if tag != "html" else "<p>hi</p>"
    text = reply(executor(tmp_path), (tag, code))
    saved = (tmp_path / f"tmp_code_{hashlib.md5(code.encode()).hexdigest()}.{ext}").resolve()
    assert text == f"exitcode: 0 (execution succeeded)\nCode output: Code saved to {saved}\n"
    assert saved.read_text() == code


def test_executor_python3_tag_is_unknown(tmp_path: Path) -> None:
    assert reply(executor(tmp_path), ("python3", "print(1)")).endswith("Code output: \nunknown language python3")


# ---- files -----------------------------------------------------------------------------------------

def test_legacy_temp_files_are_deleted(tmp_path: Path) -> None:
    reply(legacy(tmp_path), ("python", "print(1)"), ("sh", "echo 2"))
    assert list(tmp_path.iterdir()) == []


def test_legacy_filename_comment_keeps_the_file(tmp_path: Path) -> None:
    code = "# filename: tools/calc.py\nprint(40 + 2)"
    assert reply(legacy(tmp_path), ("python", code)).endswith("Code output: \n42\n")
    assert (tmp_path / "tools" / "calc.py").read_text() == code


def test_legacy_named_file_errors_keep_the_relative_name(tmp_path: Path) -> None:
    text = reply(legacy(tmp_path), ("python", "# filename: bad.py\nraise ValueError('x')"))
    assert 'File "bad.py", line 2' in text and str(tmp_path) not in text


def test_legacy_filename_comment_only_for_python(tmp_path: Path) -> None:
    reply(legacy(tmp_path), ("sh", "# filename: job.sh\necho hi"))
    assert list(tmp_path.iterdir()) == []


def test_legacy_config_filename(tmp_path: Path) -> None:
    assert reply(legacy(tmp_path, filename="job.sh"), ("sh", "echo hi")).endswith("\nhi\n")
    assert (tmp_path / "job.sh").read_text() == "echo hi"


@pytest.mark.parametrize(
    ("first_line", "name"),
    [
        ("# filename: a.py", "a.py"),
        ("# b.py", "b.py"),
        ("// filename: c.js", "c.js"),
        ("/* d.css */", "d.css"),
        ("<!-- filename: e.html -->", "e.html"),
        ("# compute the answer", "compute the answer"),  # any first-line comment names the file
    ],
)
def test_executor_filename_comments(tmp_path: Path, first_line: str, name: str) -> None:
    lang = {"js": "javascript", "css": "css", "html": "html"}.get(name.rsplit(".", 1)[-1], "python")
    code = f"{first_line}\n" + ("print('named')" if lang == "python" else "x")
    text = reply(executor(tmp_path), (lang, code))
    assert (tmp_path / name).read_text() == code
    assert text.startswith("exitcode: 0 (execution succeeded)")


def test_executor_filename_outside_workspace(tmp_path: Path) -> None:
    work = tmp_path / "work"
    text = reply(executor(work), ("python", "# filename: ../escape.py\nprint(1)"))
    assert text == "exitcode: 1 (execution failed)\nCode output: Filename is not in the workspace"
    assert not (tmp_path / "escape.py").exists()


def test_executor_code_file(tmp_path: Path) -> None:
    result = LocalCommandLineCodeExecutor(work_dir=tmp_path).execute_code_blocks(
        [CodeBlock("# first.py\nprint(1)", "python"), CodeBlock("echo 2", "sh")]
    )
    assert (result.exit_code, result.output) == (0, "1\n2\n")
    assert result.code_file == str((tmp_path / "first.py").resolve())
    exit_code, output = result  # unpacks as a pair
    assert (exit_code, output) == (0, "1\n2\n")


# ---- executor extras -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "code",
    ["rm -rf /tmp/whatever", "dd if=/dev/zero of=x bs=1 count=1", "echo x > /dev/sda1", ":(){ :|:& };:", "mv a /dev/null"],
)
def test_executor_refuses_dangerous_shell(tmp_path: Path, code: str) -> None:
    runner = executor(tmp_path)
    with pytest.raises(ValueError, match="dangerous"):
        runner.reply([{"role": "user", "content": fenced(("bash", code))}])
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_executor_makes_pip_quiet(tmp_path: Path) -> None:
    saving = LocalCommandLineCodeExecutor(work_dir=tmp_path, execution_policies={"sh": False, "python": False})
    saving.execute_code_blocks([CodeBlock("# s.sh\npip install foo\npip install -qqq bar", "sh")])
    saving.execute_code_blocks([CodeBlock("# p.py\n!pip install baz\n! pip install qux", "python")])
    assert (tmp_path / "s.sh").read_text() == "# s.sh\npip install -qqq foo\npip install -qqq bar"
    assert (tmp_path / "p.py").read_text() == "# p.py\n!pip install -qqq baz\n! pip install -qqq qux"


def _add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_executor_exposes_functions(tmp_path: Path) -> None:
    runner = executor(tmp_path, functions=[_add, "def double(x):\n    return 2 * x\n"])
    text = reply(runner, ("python", "from functions import _add, double\nprint(_add(2, 3), double(4))"))
    assert text == "exitcode: 0 (execution succeeded)\nCode output: 5 8\n"
    assert "_add(a: int, b: int) -> int: Add two numbers." in runner.executor.format_functions_for_prompt()


def test_executor_broken_functions_fail_clearly(tmp_path: Path) -> None:
    broken = LocalCommandLineCodeExecutor(work_dir=tmp_path, functions=["def f(:\n    pass\n"])
    with pytest.raises(ValueError, match="functions"):
        broken.execute_code_blocks([CodeBlock("print(1)", "python")])


def test_executor_restart_only_warns(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LocalCommandLineCodeExecutor(work_dir=tmp_path).restart()
    assert len(caught) == 1


def test_legacy_default_work_dir_is_inside_the_package() -> None:
    runner = make_code_runner({"use_docker": False})
    assert runner.work_dir == DEFAULT_WORK_DIR
    assert DEFAULT_WORK_DIR.parent == Path(__file__).resolve().parents[2] / "workers" / "agents"


def test_executor_virtual_env_context(tmp_path: Path) -> None:
    import venv

    builder = venv.EnvBuilder(with_pip=False, symlinks=True)
    context = builder.ensure_directories(tmp_path / "venv")
    builder.create(tmp_path / "venv")
    runner = executor(tmp_path / "work", virtual_env_context=context)
    text = reply(runner, ("python", "import sys\nprint(sys.prefix)"), ("sh", "command -v python"))
    assert text == f"exitcode: 0 (execution succeeded)\nCode output: {tmp_path / 'venv'}\n{Path(context.bin_path) / 'python'}\n"
