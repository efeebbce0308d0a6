"""Spec §6.2 (which messages are scanned) and `make_code_runner` configuration rules (§6.4)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from workers.agents.execution import (
    CodeBlock,
    ExecutorRunner,
    LegacyRunner,
    LocalCommandLineCodeExecutor,
    make_code_runner,
)


def code(text: str) -> str:
    return f"```sh\necho {text}\n```"


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content, "name": "other"}


def me(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "name": "me"}


@pytest.fixture(params=["legacy", "executor"])
def make(request, tmp_path: Path):
    """Build a runner of either flavour with extra config keys."""

    def build(**extra: Any):
        if request.param == "legacy":
            return make_code_runner({"work_dir": str(tmp_path), "use_docker": False, "timeout": 10, **extra})
        return make_code_runner({"executor": LocalCommandLineCodeExecutor(work_dir=tmp_path, timeout=10), **extra})

    return build


def ran(reply: tuple[bool, str | None]) -> str | None:
    """The echoed word of the block that ran, or None when nothing ran."""
    final, text = reply
    if not final:
        assert text is None
        return None
    assert text.startswith("exitcode: 0 (execution succeeded)\nCode output: ")
    return text.split("Code output: ", 1)[1].strip()


def test_auto_scans_what_arrived_since_my_last_turn(make) -> None:
    runner = make()
    history = [user(code("old")), me("thanks"), user(code("new")), user("no code here")]
    assert ran(runner.reply(history)) == "new"
    assert ran(runner.reply(history[:2])) is None  # my own message ends the window
    assert ran(runner.reply([])) is None


def test_auto_stops_at_a_message_without_role(make) -> None:
    history = [user(code("hidden")), {"content": "no role"}, user("text")]
    assert ran(make().reply(history)) is None


def test_auto_in_a_group_sees_every_speaker_since_my_turn(make) -> None:
    history = [me("plan"), user(code("alice")), {**user("bob says hi"), "name": "bob"}]
    assert ran(make(last_n_messages="auto").reply(history)) == "alice"


def test_int_window_counts_messages_of_any_role(make) -> None:
    history = [user(code("far")), me("mine"), user("near")]
    assert ran(make(last_n_messages=2).reply(history)) is None
    assert ran(make(last_n_messages=3).reply(history)) == "far"
    assert ran(make(last_n_messages=99).reply(history)) == "far"
    assert ran(make(last_n_messages=0).reply(history)) is None
    assert ran(make(last_n_messages=1).reply([me(code("mine"))])) == "mine"  # any role


def test_empty_content_is_skipped_but_counted(make) -> None:
    history = [user(code("x")), user(""), user(None)]
    assert ran(make(last_n_messages=2).reply(history)) is None
    assert ran(make(last_n_messages=3).reply(history)) == "x"


def test_newest_message_with_code_wins(make) -> None:
    history = [user(code("older")), user(code("newer")), user("plain")]
    assert ran(make().reply(history)) == "newer"


def test_all_blocks_of_the_message_run_in_order(make, tmp_path: Path) -> None:
    content = "```sh\necho one >> log.txt\n```\n```sh\nexit 5\n```\n```sh\necho three >> log.txt\n```"
    final, text = make().reply([user(content)])
    assert final and text.startswith("exitcode: 5 (execution failed)")
    assert (tmp_path / "log.txt").read_text() == "one\n"  # stopped at the first non-zero exit


@pytest.mark.parametrize("bad", [-1, "all", "3", -0.5])
def test_invalid_last_n_messages(make, bad: Any) -> None:
    with pytest.raises(ValueError, match="last_n_messages"):
        make(last_n_messages=bad).reply([user(code("x"))])


def test_config_dict_is_unchanged(tmp_path: Path) -> None:
    for config in (
        {"work_dir": str(tmp_path), "use_docker": False, "timeout": 10, "last_n_messages": 2},
        {"executor": "commandline-local", "commandline-local": {"work_dir": str(tmp_path)}, "last_n_messages": "auto"},
    ):
        before = copy.deepcopy(config)
        runner = make_code_runner(config)
        assert ran(runner.reply([user(code("x"))])) == "x"
        runner.close()
        assert config == before


def test_content_parts(make) -> None:
    content = [{"type": "text", "text": code("parts")}, {"type": "image_url", "image_url": {"url": "x"}}]
    assert ran(make().reply([user(content)])) == "parts"


def test_last_result_for_the_code_output_event(make) -> None:
    runner = make()
    assert runner.last_result is None
    runner.reply([user("```sh\necho out >&2\nexit 2\n```")])
    exit_code, output = runner.last_result
    assert exit_code == 2 and "out" in output
    runner.reply([user("nothing")])
    assert runner.last_result is None


# ---- make_code_runner ------------------------------------------------------------------------------

def test_false_turns_execution_off() -> None:
    assert make_code_runner(False) is None


@pytest.mark.parametrize("bad", [True, "yes", 3, ["work_dir"]])
def test_config_must_be_a_dict_or_false(bad: Any) -> None:
    with pytest.raises(ValueError, match="code_execution_config"):
        make_code_runner(bad)


def test_unknown_legacy_key_is_named() -> None:
    with pytest.raises(ValueError, match="work_dri"):
        make_code_runner({"use_docker": False, "work_dri": "x"})


@pytest.mark.parametrize("key", ["use_docker", "work_dir", "timeout"])
def test_legacy_keys_conflict_with_executor(key: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=key):
        make_code_runner({"executor": LocalCommandLineCodeExecutor(work_dir=tmp_path), key: False})


def test_executor_by_name_with_options(tmp_path: Path) -> None:
    runner = make_code_runner({"executor": "commandline-local", "commandline-local": {"work_dir": tmp_path, "timeout": 7}})
    assert isinstance(runner, ExecutorRunner)
    assert runner.executor.timeout == 7 and runner.executor.work_dir == tmp_path


@pytest.mark.parametrize("name", ["ipython-embedded", "nonsense"])
def test_unavailable_executor_names(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        make_code_runner({"executor": name})


def test_executor_must_look_like_one() -> None:
    with pytest.raises(ValueError, match="executor"):
        make_code_runner({"executor": object()})


class _Recorder:
    """A user-written executor: anything with code_extractor, execute_code_blocks and restart."""

    def __init__(self, inner: LocalCommandLineCodeExecutor) -> None:
        self.inner = inner
        self.seen: list[list[CodeBlock]] = []
        self.stopped = False

    @property
    def code_extractor(self):
        return self.inner.code_extractor

    def execute_code_blocks(self, code_blocks):
        self.seen.append(code_blocks)
        return self.inner.execute_code_blocks(code_blocks)

    def restart(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped = True


def test_custom_executor_object_is_used_and_left_running(tmp_path: Path) -> None:
    custom = _Recorder(LocalCommandLineCodeExecutor(work_dir=tmp_path))
    runner = make_code_runner({"executor": custom})
    assert ran(runner.reply([user(code("custom"))])) == "custom"
    assert custom.seen == [[CodeBlock("echo custom", "sh")]]
    runner.close()
    assert custom.stopped is False  # the caller owns it


def test_none_means_the_default_legacy_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGEN_USE_DOCKER", "False")
    runner = make_code_runner(None)
    assert isinstance(runner, LegacyRunner) and runner.use_docker is False
