"""docs/benchmarks.md is written by several benchmarks; each replaces only its own `## ` sections.

    write_sections(path, text)   # text: an optional preamble (before the first "## "), then sections

A section of `text` replaces the existing section with the same title, or is appended; the
existing preamble stays unless `text` brings one; other sections are left as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

_HEADING = re.compile(r"^## (.+)$", re.MULTILINE)


def split(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(preamble, [(title, whole section text including its heading)])."""
    starts = [match.start() for match in _HEADING.finditer(text)]
    preamble = text[: starts[0]] if starts else text
    sections = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        body = text[start:end]
        sections.append((_HEADING.match(body).group(1).strip(), body.rstrip("\n") + "\n"))
    return preamble, sections


def write_sections(path: Path, text: str) -> None:
    old_preamble, old_sections = split(path.read_text()) if path.exists() else ("", [])
    new_preamble, new_sections = split(text)
    replacements = dict(new_sections)
    merged = [(title, replacements.pop(title, body)) for title, body in old_sections]
    merged += [(title, body) for title, body in new_sections if title in replacements]
    preamble = new_preamble if new_preamble.strip() else old_preamble
    path.write_text(preamble.rstrip("\n") + "\n\n" + "\n".join(body for _, body in merged))
