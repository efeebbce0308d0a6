"""Agent tools as Python source text, read WITHOUT running it.

A tool is the source of one public top-level function (private `_helpers` and imports may sit
beside it). Its code only ever runs inside the code sandbox, so everything the LLM needs (name,
description, JSON schema of the parameters) is derived from the syntax tree here: type hints and
literal defaults are read, never evaluated. Pure Python (no Django), shared by the studio's
validation and by workers/bridge.py.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_SIMPLE_TYPES: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "str": {"type": "string"},
    "bool": {"type": "boolean"},
    "list": {"type": "array", "items": {}},
    "List": {"type": "array", "items": {}},
    "dict": {"type": "object", "additionalProperties": True},
    "Dict": {"type": "object", "additionalProperties": True},
    "Any": {},
}


class ToolSourceError(ValueError):
    """The tool source cannot be offered to an LLM; the message says why, in plain words."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    source: str

    def schema(self) -> dict[str, Any]:
        """The OpenAI tool shape the engine puts into llm_config["tools"]."""
        return {
            "type": "function",
            "function": {"description": self.description, "name": self.name, "parameters": self.parameters},
        }


def parse_tool(source: str) -> ToolSpec:
    """The tool defined by `source`, or ToolSourceError naming the problem."""
    if not isinstance(source, str) or not source.strip():
        raise ToolSourceError("the tool is empty: write one Python function")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ToolSourceError(f"the tool is not valid Python (line {exc.lineno}: {exc.msg})") from None
    public = [node for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]
    if any(isinstance(node, ast.AsyncFunctionDef) for node in tree.body):
        raise ToolSourceError("async functions cannot be tools here; write a plain def")
    if len(public) != 1:
        found = ", ".join(node.name for node in public) or "none"
        raise ToolSourceError(
            f"a tool must define exactly one public function (found: {found}); name helpers with a leading underscore"
        )
    func = public[0]
    if not _VALID_NAME.match(func.name):
        raise ToolSourceError(f"the function name {func.name!r} is too long (64 characters at most)")
    description = (ast.get_docstring(func) or "").strip()
    if not description:
        raise ToolSourceError(f"{func.name}: add a docstring; it tells the model what the tool does")
    return ToolSpec(name=func.name, description=description, parameters=_parameters(func), source=source)


def _parameters(func: ast.FunctionDef) -> dict[str, Any]:
    args = func.args
    if args.vararg or args.kwarg:
        raise ToolSourceError(f"{func.name}: *args and **kwargs cannot be described to a model; name every parameter")
    positional = args.posonlyargs + args.args
    # Defaults belong to the last positional parameters; keyword-only ones have their own list.
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for arg, default in params:
        if arg.annotation is None:
            raise ToolSourceError(f"{func.name}: parameter {arg.arg!r} needs a type hint (e.g. {arg.arg}: str)")
        schema, text = _annotation_schema(arg.annotation, func.name, arg.arg)
        schema = dict(schema)
        if default is None:
            required.append(arg.arg)
        else:
            try:
                schema["default"] = ast.literal_eval(default)
            except ValueError:
                raise ToolSourceError(
                    f"{func.name}: the default of {arg.arg!r} must be a literal (a number, string, list, ...)"
                ) from None
        schema["description"] = text if text is not None else arg.arg
        properties[arg.arg] = schema
    return {"type": "object", "properties": properties, "required": required}


def _annotation_schema(node: ast.expr, func: str, param: str) -> tuple[dict[str, Any], str | None]:
    """(JSON schema, description from Annotated[..., "text"]) of one type hint."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a quoted hint
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            raise ToolSourceError(f"{func}: the type hint of {param!r} is not valid Python") from None
    if isinstance(node, ast.Subscript) and _base_name(node.value) == "Annotated":
        items = _subscript_items(node)
        schema, _ = _annotation_schema(items[0], func, param)
        text = next((i.value for i in items[1:] if isinstance(i, ast.Constant) and isinstance(i.value, str)), None)
        return schema, text
    return _type_schema(node, func, param), None


def _type_schema(node: ast.expr, func: str, param: str) -> dict[str, Any]:
    unsupported = ToolSourceError(
        f"{func}: the type hint of {param!r} ({ast.unparse(node)}) is not supported; use str, int, float, bool, "
        "list[...], dict[str, ...], Optional[...], Literal[...] or Annotated[..., 'description']"
    )
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null"}
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = _base_name(node)
        if name in _SIMPLE_TYPES:
            return dict(_SIMPLE_TYPES[name])
        raise unsupported
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # X | Y
        return _union([node.left, node.right], func, param)
    if isinstance(node, ast.Subscript):
        base = _base_name(node.value)
        items = _subscript_items(node)
        if base in ("list", "List", "Sequence", "set", "Set") and len(items) == 1:
            return {"type": "array", "items": _type_schema(items[0], func, param)}
        if base in ("tuple", "Tuple") and len(items) == 2 and _is_ellipsis(items[1]):
            return {"type": "array", "items": _type_schema(items[0], func, param)}
        if base in ("dict", "Dict", "Mapping") and len(items) == 2:
            return {"type": "object", "additionalProperties": _type_schema(items[1], func, param)}
        if base == "Optional" and len(items) == 1:
            return _union([items[0], ast.Constant(value=None)], func, param)
        if base == "Union":
            return _union(items, func, param)
        if base == "Literal":
            values = []
            for item in items:
                if not isinstance(item, ast.Constant):
                    raise unsupported
                values.append(item.value)
            return {"enum": values}
    raise unsupported


def _union(members: list[ast.expr], func: str, param: str) -> dict[str, Any]:
    flat: list[ast.expr] = []
    for member in members:
        if isinstance(member, ast.BinOp) and isinstance(member.op, ast.BitOr):
            flat += [member.left, member.right]
        else:
            flat.append(member)
    return {"anyOf": [_type_schema(member, func, param) for member in flat]}


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.List, t.Optional
        return node.attr
    return ""


def _subscript_items(node: ast.Subscript) -> list[ast.expr]:
    inner = node.slice
    return list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


TOOL_RUNNER = '''{source}

if __name__ == "__main__":
    import json as _parley_json
    _parley_value = {name}(**_parley_json.loads({arguments!r}))
    if not isinstance(_parley_value, str):
        _dump = getattr(_parley_value, "model_dump_json", None)
        _parley_value = _dump() if callable(_dump) else str(_parley_value)
    print({marker!r})
    print(_parley_value, end="")
'''


def tool_script(spec: ToolSpec, arguments_json: str, marker: str) -> str:
    """A script that calls the tool once and prints `marker` then its result (str, as the engine does)."""
    return TOOL_RUNNER.format(source=spec.source.rstrip(), name=spec.name, arguments=arguments_json, marker=marker)
