"""Tools are read from their source without running it: schema, description and clear refusals."""

from __future__ import annotations

import pytest

from studio.crews.toolspec import ToolSourceError, parse_tool
from studio.crews.validation import check_tools

AREA = '''import math
from typing import Annotated, Literal, Optional

def _square(x):
    return x * x

def area(radius: Annotated[float, "radius of the circle"], unit: Literal["cm", "m"] = "cm",
         labels: Optional[list[str]] = None, *, precision: int = 2) -> str:
    """Area of a circle.

    More words the model may read."""
    return f"{round(math.pi * _square(radius), precision)} {unit}^2"
'''


def test_schema_comes_from_hints_docstring_and_literal_defaults():
    spec = parse_tool(AREA)
    assert spec.name == "area" and spec.description.startswith("Area of a circle.")
    assert spec.schema() == {"type": "function", "function": {
        "description": spec.description, "name": "area",
        "parameters": {"type": "object", "required": ["radius"], "properties": {
            "radius": {"type": "number", "description": "radius of the circle"},
            "unit": {"enum": ["cm", "m"], "default": "cm", "description": "unit"},
            "labels": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                       "default": None, "description": "labels"},
            "precision": {"type": "integer", "default": 2, "description": "precision"},
        }},
    }}


@pytest.mark.parametrize("source, message", [
    ("", "empty"),
    ("def f(:\n  pass", "not valid Python (line 1"),
    ("x = 1", "exactly one public function (found: none)"),
    ("def a(x: int):\n    '''A.'''\ndef b(x: int):\n    '''B.'''", "found: a, b"),
    ("def f(x: int):\n    return x", "add a docstring"),
    ("def f(x):\n    '''F.'''", "parameter 'x' needs a type hint"),
    ("def f(*args: int):\n    '''F.'''", "*args and **kwargs"),
    ("def f(x: set):\n    '''F.'''", "(set) is not supported"),
    ("def f(x: int = len('a')):\n    '''F.'''", "must be a literal"),
    ("async def f(x: int):\n    '''F.'''", "async functions"),
])
def test_unusable_tools_are_refused_in_words(source, message):
    with pytest.raises(ToolSourceError, match=None) as excinfo:
        parse_tool(source)
    assert message in str(excinfo.value)


def test_tool_lists_need_distinct_names():
    add = 'def add(a: int) -> int:\n    """Add."""\n    return a\n'
    assert check_tools([add]) is None
    assert check_tools([add, add]) == "Two tools are named add; tool names must differ."
    assert check_tools("def add") == "Tools must be a list of Python function sources."
