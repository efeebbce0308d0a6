"""Code extraction and execution for the engine (spec §6). See docs/engine.md for the contract."""

from .base import CodeBlock, CodeExecutor, CodeExtractor, CodeResult, CommandLineCodeResult
from .docker import DockerCommandLineCodeExecutor
from .extraction import CODE_BLOCK_PATTERN, UNKNOWN, MarkdownCodeExtractor, extract_code, infer_lang
from .legacy import LegacyRunner, decide_use_docker
from .local import LocalCommandLineCodeExecutor
from .reply import ExecutorRunner, Runner, make_code_runner

__all__ = [
    "CODE_BLOCK_PATTERN",
    "UNKNOWN",
    "CodeBlock",
    "CodeExecutor",
    "CodeExtractor",
    "CodeResult",
    "CommandLineCodeResult",
    "DockerCommandLineCodeExecutor",
    "ExecutorRunner",
    "LegacyRunner",
    "LocalCommandLineCodeExecutor",
    "MarkdownCodeExtractor",
    "Runner",
    "decide_use_docker",
    "extract_code",
    "infer_lang",
    "make_code_runner",
]
