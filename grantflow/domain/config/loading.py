"""Reading grantflow.yml: parse, validate, report every problem with its line; re-read on change."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from grantflow.domain.config.checks import semantic_problems
from grantflow.domain.config.errors import ConfigError, clean_loc, format_path, line_map, nearest_line, pydantic_message
from grantflow.domain.config.quorum import quorum_warnings
from grantflow.domain.config.schema import GrantflowConfig

# The example shipped in the package (grantflow/examples/), used when no config file is found.
SHIPPED_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "grantflow.yml"


def parse_config(text: str, filename: str = "grantflow.yml") -> GrantflowConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{mark.line + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        context, started = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and started is not None and mark is not None and started.line != mark.line:
            problem += f" ({context} that starts on line {started.line + 1})"
        raise ConfigError([f"{filename}:{where}: invalid YAML: {problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{filename}:1: the file must be a mapping (admins, groups, integrations, ...)"])
    lines = line_map(text)
    problems: list[tuple[tuple[str | int, ...], str]] = []
    try:
        cfg: GrantflowConfig | None = GrantflowConfig.model_validate(data)
        kept: dict[str, list[int]] = {}
        dropped: dict[str, set[str]] = {}
    except ValidationError as exc:
        for err in exc.errors():
            loc = clean_loc(tuple(err["loc"]))
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc = (*loc, "type")
            problems.append((loc, pydantic_message(err)))
        cfg, kept, dropped = _valid_rest(data, exc)
    if cfg is not None:
        for path, message in semantic_problems(cfg):
            if any(f'unknown {kind} "{name}"' in message for kind, names in dropped.items() for name in names):
                continue  # it names an entry that is already reported as invalid
            if path and path[0] in kept and len(path) > 1 and isinstance(path[1], int):
                path = (path[0], kept[str(path[0])][path[1]], *path[2:])
            problems.append((path, message))
    if problems:
        located = [(nearest_line(lines, path), format_path(path), message) for path, message in problems]
        located.sort(key=lambda x: x[0] or 0)
        out = [f"{filename}:{line or '?'}: {path}: {message}" for line, path, message in located]
        raise ConfigError(sorted(set(out), key=out.index))
    assert cfg is not None
    return cfg


_SECTIONS = {"integrations": "integration", "bundles": "bundle", "access_flows": "flow"}


def _valid_rest(
    data: dict[str, Any], exc: ValidationError
) -> tuple[GrantflowConfig | None, dict[str, list[int]], dict[str, set[str]]]:
    """The config without the list entries that failed validation, so that cross-reference problems in the
    rest are reported in the same run. Returns it (None when a whole section is unusable), the original
    index of each kept entry, and the ids of the dropped entries by kind (references to them are not
    reported again as unknown)."""
    bad: dict[str, set[int]] = {}
    for err in exc.errors():
        loc = err["loc"]
        if len(loc) < 2 or loc[0] not in _SECTIONS or not isinstance(loc[1], int):
            return None, {}, {}
        bad.setdefault(str(loc[0]), set()).add(loc[1])
    rest = dict(data)
    kept: dict[str, list[int]] = {}
    dropped: dict[str, set[str]] = {}
    for section, indexes in bad.items():
        entries = rest[section]
        kept[section] = [i for i in range(len(entries)) if i not in indexes]
        rest[section] = [entries[i] for i in kept[section]]
        dropped[_SECTIONS[section]] = {
            str(entries[i].get("id")) for i in indexes if isinstance(entries[i], dict) and "id" in entries[i]
        }
    try:
        return GrantflowConfig.model_validate(rest), kept, dropped
    except ValidationError:
        return None, {}, {}


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """GRANTFLOW_CONFIG, else ./grantflow.yml, else the shipped example."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("GRANTFLOW_CONFIG")
    if env:
        return Path(env)
    local = Path("grantflow.yml")
    return local if local.exists() else SHIPPED_EXAMPLE


def load_config(path: str | os.PathLike[str] | None = None) -> GrantflowConfig:
    p = config_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read config: {exc.strerror or exc}"]) from None
    cfg = parse_config(text, str(p))
    cfg._source_dir = p.resolve().parent
    return cfg


def config_warnings(cfg: GrantflowConfig, text: str, filename: str = "grantflow.yml") -> list[str]:
    """What a valid config should still fix, each as `file:line: path: warning: message` (nothing is refused)."""
    lines = line_map(text)
    located = [(nearest_line(lines, path) or 0, format_path(path), message) for path, message in quorum_warnings(cfg)]
    return [f"{filename}:{line or '?'}: {path}: warning: {message}" for line, path, message in sorted(located)]


def check_config(path: str | os.PathLike[str] | None = None) -> tuple[GrantflowConfig, list[str]]:
    """`load_config` and the warnings about the valid config (what `grantflow config check` prints)."""
    cfg = load_config(path)
    p = config_path(path)
    return cfg, config_warnings(cfg, p.read_text(encoding="utf-8"), str(p))


class ConfigSource:
    """The config a long-running process uses: re-read when the file changes, kept when the new one is bad."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = config_path(path)
        self._mtime: float | None = None
        self._config: GrantflowConfig | None = None
        self.last_error: ConfigError | None = None

    def get(self) -> GrantflowConfig:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            mtime = None
        if self._config is None or mtime != self._mtime:
            try:
                self._config = load_config(self.path)
                self.last_error = None
            except ConfigError as exc:
                if self._config is None:
                    raise
                self.last_error = exc
            self._mtime = mtime
        return self._config
