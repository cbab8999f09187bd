"""Problems pointed at their line: YAML paths to line numbers, pydantic errors to sentences."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


class ConfigError(Exception):
    """Every problem in a config file, each already formatted as `file:line: path: message`."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def line_map(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each YAML path to its 1-based line, so that errors can point into the file."""
    lines: dict[tuple[str | int, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, str(key.value))
                lines[child] = key.start_mark.line + 1
                walk(value, child)
                lines[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return lines


def format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def nearest_line(lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


INTEGRATION_TYPES = "script, postgresql, mysql, webhook or aws_identity_center"


def clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's union/discriminator tags (e.g. 'script', 'FlowGrant') from an error location."""
    tags = {
        "script",
        "postgresql",
        "mysql",
        "webhook",
        "aws_identity_center",
        "FlowGrant",
        "FlowBundleGrant",
        "function-before[_duration(), int]",
    }
    return tuple(p for p in loc if not (isinstance(p, str) and (p in tags or p.startswith("function-"))))


def pydantic_message(err: Any) -> str:
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if err.get("type") == "extra_forbidden":
        return "unknown field"
    if err.get("type") == "missing":
        return "is required"
    if err.get("type") == "union_tag_invalid":
        return f'unknown type "{err.get("ctx", {}).get("tag")}" (expected {INTEGRATION_TYPES})'
    if err.get("type") == "union_tag_not_found":
        return f"is required ({INTEGRATION_TYPES})"
    if err.get("type") == "string_pattern_mismatch" and err["loc"][-1] == "id":
        return f'"{err.get("input")}" is not a valid id (lower-case letters, digits, "-" and "_")'
    if err.get("type") == "string_pattern_mismatch" and len(err["loc"]) > 1 and err["loc"][-2] == "env":
        return f'"{err.get("input")}" is not an environment variable name (letters, digits and "_")'
    return msg
