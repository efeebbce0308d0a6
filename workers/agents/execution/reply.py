"""`make_code_runner`: turn an agent's `code_execution_config` into a runner (spec §6.2, §6.4)."""

from __future__ import annotations

from typing import Any, Callable, Union

from .base import CodeExecutor, CodeResult
from .legacy import LegacyRunner
from .window import WindowRunner

Runner = Union[LegacyRunner, "ExecutorRunner"]

# Keys that belong to the legacy runner and make no sense next to an executor (spec §6.4).
_LEGACY_ONLY = ("use_docker", "work_dir", "timeout")


class ExecutorRunner(WindowRunner):
    """Runs the code of the newest message in the window through a `CodeExecutor`.

    An executor given as an object belongs to the caller: `close()` leaves it alone. One built
    from a name ("commandline-local", ...) belongs to the runner: `close()` stops it, and the next
    block builds a fresh one, so a paused conversation can close its runners and resume later.
    """

    def __init__(
        self,
        executor: CodeExecutor | None,
        last_n_messages: Any = "auto",
        *,
        factory: Callable[[], CodeExecutor] | None = None,
    ) -> None:
        super().__init__()
        if executor is None and factory is None:
            raise ValueError("executor: give an executor or a factory that builds one")
        self._executor = executor
        self._factory = factory
        self.last_n_messages = last_n_messages

    @property
    def executor(self) -> CodeExecutor:
        if self._executor is None:
            assert self._factory is not None
            self._executor = self._factory()
        return self._executor

    def _run_message(self, content: Any) -> CodeResult | None:
        code_blocks = self.executor.code_extractor.extract_code_blocks(content)
        if not code_blocks:
            return None
        return self.executor.execute_code_blocks(code_blocks)

    def close(self) -> None:
        if self._factory is None or self._executor is None:
            return
        stop = getattr(self._executor, "stop", None)
        if callable(stop):
            stop()
            self._executor = None  # rebuilt on the next block


def make_code_runner(code_execution_config: Any) -> Runner | None:
    """None when execution is off (False); otherwise a runner for the config.

    None means the defaults, as in the reference: ``{}`` (legacy runner, `use_docker` from the
    environment). The caller's dict is never modified.
    """
    if code_execution_config is False:
        return None
    if code_execution_config is None:
        code_execution_config = {}
    if not isinstance(code_execution_config, dict):
        raise ValueError(
            f"code_execution_config: expected a dict or False, got {type(code_execution_config).__name__}"
        )
    if "executor" not in code_execution_config:
        return LegacyRunner(code_execution_config)

    for key in _LEGACY_ONLY:
        if key in code_execution_config:
            raise ValueError(
                f"code_execution_config[{key!r}]: not valid together with 'executor'; "
                "set it on the executor instead"
            )
    last_n_messages = code_execution_config.get("last_n_messages", "auto")
    executor = code_execution_config["executor"]
    if isinstance(executor, str):
        factory = _executor_factory(executor, code_execution_config.get(executor) or {})
        # Built now, as the reference does, so a bad option or a missing engine fails at construction.
        return ExecutorRunner(factory(), last_n_messages, factory=factory)
    if isinstance(executor, CodeExecutor):
        return ExecutorRunner(executor, last_n_messages)
    raise ValueError(
        f"code_execution_config['executor']: expected a code executor or 'commandline-local', got {executor!r}"
    )


def _executor_factory(name: str, options: Any) -> Callable[[], CodeExecutor]:
    if not isinstance(options, dict):
        raise ValueError(f"code_execution_config[{name!r}]: expected a dict of executor options, got {options!r}")
    options = dict(options)
    if name == "commandline-local":
        from .local import LocalCommandLineCodeExecutor

        return lambda: LocalCommandLineCodeExecutor(**options)
    if name == "commandline-docker":  # Parley addition: JSON-only configs can name it too
        from .docker import DockerCommandLineCodeExecutor

        return lambda: DockerCommandLineCodeExecutor(**options)
    if name == "ipython-embedded":
        raise ValueError("code_execution_config['executor']: 'ipython-embedded' is not available in Parley")
    raise ValueError(f"code_execution_config['executor']: unknown executor {name!r}")
