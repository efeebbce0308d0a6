"""Spec §6.1: finding code blocks in message text, and language inference."""

from __future__ import annotations

import pytest

from workers.agents.execution import UNKNOWN, CodeBlock, extract_code, infer_lang
from workers.agents.execution.extraction import MarkdownCodeExtractor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```python\nprint(1)\n```", [("python", "print(1)")]),
        ("```\nprint(1)\n```", [("", "print(1)")]),
        ("```  python \t\nx = 1\n```", [("python", "x = 1")]),  # blanks around the tag
        ("```python\nx = 1\n    ```", [("python", "x = 1")]),  # indented closing fence
        ("```python\r\nx = 1\r\n```", [("python", "x = 1")]),  # CRLF
        ("```sh\necho a\n```\ntext\n```python\nprint(2)\nprint(3)\n```", [("sh", "echo a"), ("python", "print(2)\nprint(3)")]),
    ],
)
def test_fenced_blocks_match(text: str, expected: list[tuple[str, str]]) -> None:
    assert extract_code(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "```python\nprint(1)```",  # closing fence on the code line
        "```c++\nint x;\n```",  # tag with non-word characters
        "no code here at all",
        "run `ls -la` please",  # inline code is ignored by default
        "",
    ],
)
def test_no_match_means_unknown(text: str) -> None:
    assert extract_code(text) == [(UNKNOWN, text)]


def test_inline_code_only_with_detect_single_line_code() -> None:
    text = "run `ls -la` then\n```python\nprint(1)\n```"
    assert extract_code(text, detect_single_line_code=True) == [("", "ls -la"), ("python", "print(1)")]


def test_content_parts_use_the_text_view() -> None:
    content = [
        {"type": "text", "text": "look:"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "```sh\necho hi\n```"},
    ]
    assert extract_code(content) == [("sh", "echo hi")]
    assert extract_code(None) == [(UNKNOWN, "")]


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        ("python script.py", "sh"),
        ("python3 -m venv x", "sh"),
        ("pip install numpy", "sh"),
        ("print('hi')", "python"),
        ("ls -la", "python"),  # compiles as Python: the reference footgun, kept
        ("hello", "python"),
        ("x = (", UNKNOWN),
        ("echo hello world", UNKNOWN),
    ],
)
def test_infer_lang(code: str, lang: str) -> None:
    assert infer_lang(code) == lang


def test_executor_extractor_infers_untagged_blocks() -> None:
    text = "```\nprint(1)\n```\n```\npip install x\n```\n```\nnot ( code\n```\n```Bash\necho $HOME\n```"
    assert MarkdownCodeExtractor().extract_code_blocks(text) == [
        CodeBlock(code="print(1)", language="python"),
        CodeBlock(code="pip install x", language="sh"),
        CodeBlock(code="not ( code", language=""),
        CodeBlock(code="echo $HOME", language="Bash"),  # tags are kept as written; executors lower-case
    ]


def test_executor_extractor_without_code_is_empty() -> None:
    assert MarkdownCodeExtractor().extract_code_blocks("```python\nprint(1)```") == []
    assert MarkdownCodeExtractor().extract_code_blocks(None) == []
