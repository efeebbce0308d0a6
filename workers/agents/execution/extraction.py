"""Finding code in message text (spec §6.1)."""

from __future__ import annotations

import re
from typing import Any

from ..messages import content_str
from .base import CodeBlock

UNKNOWN = "unknown"

# Opening fence: backticks, optional blanks, an optional word-only tag, optional blanks, newline.
# Body: non-greedy across lines. Closing fence: newline, optional blanks, backticks.
CODE_BLOCK_PATTERN = r"```[ \t]*(\w+)?[ \t]*\r?\n(.*?)\r?\n[ \t]*```"
_INLINE_CODE_PATTERN = r"`([^`]+)`"

def extract_code(
    text: Any,
    pattern: str = CODE_BLOCK_PATTERN,
    detect_single_line_code: bool = False,
) -> list[tuple[str, str]]:
    """Legacy extractor: ``[(lang, code), ...]``; ``[("unknown", text)]`` means "no code"."""
    text = content_str(text)
    if not detect_single_line_code:
        found = re.findall(pattern, text, flags=re.DOTALL)
        return found if found else [(UNKNOWN, text)]

    # Fenced blocks fill the first two groups, inline `code` the third.
    combined = re.compile(CODE_BLOCK_PATTERN + "|" + _INLINE_CODE_PATTERN, flags=re.DOTALL)
    blocks: list[tuple[str, str]] = []
    for lang, fenced, inline in combined.findall(text):
        if fenced:
            blocks.append((lang.strip(), fenced.strip()))
        elif inline:
            blocks.append(("", inline.strip()))
    return blocks if blocks else [(UNKNOWN, text)]


def infer_lang(code: str) -> str:
    """Guess an untagged block's language: "sh", "python" or UNKNOWN (spec §6.1)."""
    if code.startswith(("python ", "python3 ", "pip")):
        return "sh"
    try:
        compile(code, "<parley-infer>", "exec")
    except (SyntaxError, ValueError):  # ValueError: NUL bytes in the source
        return UNKNOWN
    return "python"


class MarkdownCodeExtractor:
    """Executor-flavour extractor: CodeBlock objects, ``[]`` when there is no code."""

    def extract_code_blocks(self, message: Any) -> list[CodeBlock]:
        text = content_str(message)
        blocks: list[CodeBlock] = []
        for lang, code in re.findall(CODE_BLOCK_PATTERN, text, flags=re.DOTALL):
            if not lang:
                lang = infer_lang(code)
                if lang == UNKNOWN:
                    lang = ""
            blocks.append(CodeBlock(code=code, language=lang))
        return blocks
