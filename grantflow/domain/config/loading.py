"""Reading grantflow.yml: parse, validate, report every problem with its line; re-read on change."""

from __future__ import annotations

import copy
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
    # Invalid fields taken out so the rest is still cross-checked (reported already; nothing is said of
    # what their defaults imply, such as "default_duration is longer than max_duration").
    removed: set[tuple[str | int, ...]] = set()
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
        cfg, kept, dropped = _valid_rest(data, exc, removed)
    if cfg is not None:
        for path, message in semantic_problems(cfg):
            if any(f'unknown {kind} "{name}"' in message for kind, names in dropped.items() for name in names):
                continue  # it names an entry that is already reported as invalid
            if any(path[: len(r) - 1] == r[:-1] and str(r[-1]) in message for r in removed):
                continue  # it is about the default of a field already reported as invalid
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
    data: dict[str, Any], exc: ValidationError, removed: set[tuple[str | int, ...]]
) -> tuple[GrantflowConfig | None, dict[str, list[int]], dict[str, set[str]]]:
    """The config without the list entries that failed validation, so that cross-reference problems in the
    rest are reported in the same run. Returns it (None when a whole section is unusable), the original
    index of each kept entry, and the ids of the dropped entries by kind (references to them are not
    reported again as unknown)."""
    data, remaining = _without_bad_fields(data, exc, removed)
    if remaining is None:
        return GrantflowConfig.model_validate(data), {}, {}
    exc = remaining
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


def _field_of(data: dict[str, Any], loc: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """The innermost optional field an error is about (`access_flows.0.max_duration`, `groups.eng`), as a
    path to delete; None when there is no such field to take out (then its entry is left out instead)."""
    if len(loc) == 1 and loc[0] in data and loc[0] not in _SECTIONS:
        return (loc[0],)  # a top-level field: `colour: red`, `admin_channel: [x]`
    if len(loc) < 2:
        return None
    path: list[str | int] = [loc[0]]
    holder: Any = data.get(str(loc[0]))
    for part in loc[1:]:
        if isinstance(holder, list) and isinstance(part, int) and part < len(holder):
            if len(path) != 1 or path[0] not in _SECTIONS:
                break  # an item of a list field: take out the whole field
            path.append(part)
        elif isinstance(holder, dict) and part in holder:
            path.append(part)
        elif isinstance(holder, dict):
            continue  # pydantic's union tags ("script", "FlowGrant", ...)
        else:
            break
        holder = holder[part]
    if path[0] in _SECTIONS and (len(path) < 3 or not isinstance(path[1], int)):
        return None
    return tuple(path) if path[0] in data else None


def _without_bad_fields(
    data: dict[str, Any], exc: ValidationError, removed: set[tuple[str | int, ...]]
) -> tuple[dict[str, Any], ValidationError | None]:
    """The data with each invalid optional field taken out (a bad duration, an unknown field), so that the
    rest of its entry is still cross-checked (a bad group reference beside a bad duration is reported in the
    same run). Returns the data and the errors that remain (None when it now validates)."""
    repaired = copy.deepcopy(data)
    for _ in range(3):
        paths = {_field_of(repaired, tuple(err["loc"])) for err in exc.errors() if err["type"] != "missing"}
        paths.discard(None)
        if not paths:
            return repaired, exc
        for path in paths:
            assert path is not None
            removed.add(path)
            holder: Any = repaired
            for part in path[:-1]:
                holder = holder[part]
            holder.pop(path[-1], None)
        try:
            GrantflowConfig.model_validate(repaired)
            return repaired, None
        except ValidationError as again:
            exc = again
    return repaired, exc


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
