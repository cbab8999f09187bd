"""The grantflow.yml schema, its loader and its line-pointing validation.

`load_config` returns a validated `GrantflowConfig` or raises `ConfigError` with every problem found,
each as `file:line: path: message`, so that `grantflow config check` can print them all at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, ValidationError, field_validator

from grantflow.domain.durations import DurationError, parse_duration
from grantflow.domain.emails import BadEmail, check_email
from grantflow.domain.pgprivileges import PrivilegeError, as_tokens, parse_privileges, permission_table

SHIPPED_EXAMPLE = Path(__file__).parent / "examples" / "grantflow.yml"
# Each reminder is a timer, a publish and history events for as long as the request waits (7 days): a short
# interval would loop a pending workflow towards Temporal's history limit for nothing.
MIN_APPROVAL_REMINDER = 15 * 60

PRINCIPAL_HELP = 'must be "user:EMAIL" or "group:NAME"'
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# grantflow's own settings (keys, tokens, DSNs) never reach a script, even when an `env:` lists them.
RESERVED_ENV = ("DATABASE_URL",)
RESERVED_ENV_PREFIXES = ("GRANTFLOW_", "SLACK_", "TEMPORAL_")


def reserved_env(name: str) -> bool:
    return name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _duration(value: Any) -> int:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


class ScriptResourceType(_Strict):
    id: str
    name: str | None = None
    resources: list[str] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list)
    description: str = ""


class IntegrationBase(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str = ""
    description: str = ""
    tags: list[str] = Field(default_factory=list)


class ScriptIntegration(IntegrationBase):
    type: Literal["script"]
    resource_types: list[ScriptResourceType]
    grant: list[str] = Field(min_length=1)
    revoke: list[str] = Field(min_length=1)
    extend: list[str] | None = None
    list_resources: list[str] | None = None
    timeout: Annotated[int, Field(gt=0)] = 60
    workdir: str | None = None
    # Names of worker environment variables the commands receive (besides PATH, HOME, LANG, TZ).
    env: list[Annotated[str, Field(pattern=ENV_NAME)]] = Field(default_factory=list)

    _timeout_duration = field_validator("timeout", mode="before")(_duration)


class PostgresIntegration(IntegrationBase):
    type: Literal["postgresql"]
    dsn_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    resource_types: list[Literal["database", "schema", "table"]] = Field(
        default_factory=lambda: ["database", "schema", "table"]  # type: ignore[arg-type]
    )
    permissions: dict[str, str | list[str]] = Field(default_factory=dict)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    host: str | None = None
    port: int | None = None
    # On revoke, hand the objects the grantee created to the no-privilege role `grantflow_orphans`
    # (defused) instead of dropping them.
    keep_objects: bool = False


Integration = Annotated[ScriptIntegration | PostgresIntegration, Field(discriminator="type")]


class BundleItem(_Strict):
    integration: str
    resource_type: str
    resource: str
    permission: str


class Bundle(_Strict):
    id: str
    name: str = ""
    description: str = ""
    items: list[BundleItem] = Field(min_length=1)


class FlowGrant(_Strict):
    integration: str
    resource_types: list[str] = Field(default_factory=lambda: ["*"])
    resources: list[str] = Field(default_factory=lambda: ["*"])
    permissions: list[str] = Field(min_length=1)


class FlowBundleGrant(_Strict):
    bundle: str


def _grant_kind(value: Any) -> str:
    """A grant naming a bundle is a bundle grant; anything else is judged as an integration grant, so that
    a mistake in either is reported once, against the shape the author meant."""
    if isinstance(value, FlowBundleGrant) or (isinstance(value, dict) and "bundle" in value):
        return "FlowBundleGrant"
    return "FlowGrant"


AnyFlowGrant = Annotated[
    Annotated[FlowGrant, Tag("FlowGrant")] | Annotated[FlowBundleGrant, Tag("FlowBundleGrant")],
    Discriminator(_grant_kind),
]


class Extension(_Strict):
    enabled: bool = False
    max_extensions: int = Field(default=1, ge=0)
    duration: int = 3600
    notify_before: int = 900

    _durations = field_validator("duration", "notify_before", mode="before")(_duration)


class AccessFlow(_Strict):
    id: str
    name: str = ""
    description: str = ""
    requestors: list[str] = Field(min_length=1)
    # Who else the requestors may name as grantee (`--for`), as principals; the requestors always may.
    grantees: list[str] = Field(default_factory=list)
    grants: list[AnyFlowGrant] = Field(min_length=1)
    approvers: list[str] = Field(default_factory=list)
    approvals_required: int = Field(default=1, ge=0)
    approval_channel: str | None = None
    approval_reminder: int = 24 * 3600
    max_duration: int = 8 * 3600
    default_duration: int = 3600
    justification_required: bool = True
    extension: Extension = Field(default_factory=Extension)

    _durations = field_validator("max_duration", "default_duration", "approval_reminder", mode="before")(_duration)


class SlackOptions(_Strict):
    # Guests (Slack's `is_restricted` / `is_ultra_restricted`) may request and decide only when this is true.
    allow_guests: bool = False


class GrantflowConfig(_Strict):
    admins: list[str] = Field(default_factory=list)
    slack: SlackOptions = Field(default_factory=SlackOptions)
    admin_channel: str | None = None  # where reconciliation reports drift (Slack channel); else the log
    groups: dict[str, list[str]] = Field(default_factory=dict)
    integrations: list[Integration] = Field(default_factory=list)
    bundles: list[Bundle] = Field(default_factory=list)
    access_flows: list[AccessFlow] = Field(default_factory=list)
    # The folder of the file it came from: relative script paths resolve against it.
    _source_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def source_dir(self) -> Path:
        return self._source_dir

    def integration(self, integration_id: str) -> ScriptIntegration | PostgresIntegration | None:
        return next((i for i in self.integrations if i.id == integration_id), None)

    def bundle(self, bundle_id: str) -> Bundle | None:
        return next((b for b in self.bundles if b.id == bundle_id), None)

    def flow(self, flow_id: str) -> AccessFlow | None:
        return next((f for f in self.access_flows if f.id == flow_id), None)

    def expand(self, principals: Iterable[str]) -> list[str]:
        """Principals (`user:X`, `group:G`) to a sorted list of lower-cased emails."""
        out: set[str] = set()
        for p in principals:
            kind, _, name = p.partition(":")
            if kind == "user":
                out.add(name.strip().lower())
            elif kind == "group":
                out.update(e.strip().lower() for e in self.groups.get(name, []))
        return sorted(out)


class ConfigError(Exception):
    """Every problem in a config file, each already formatted as `file:line: path: message`."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# --- line numbers ---------------------------------------------------------------------------------


def _line_map(text: str) -> dict[tuple[str | int, ...], int]:
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


def _nearest_line(lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's union/discriminator tags (e.g. 'script', 'FlowGrant') from an error location."""
    tags = {"script", "postgresql", "FlowGrant", "FlowBundleGrant", "function-before[_duration(), int]"}
    return tuple(p for p in loc if not (isinstance(p, str) and (p in tags or p.startswith("function-"))))


def _pydantic_message(err: Any) -> str:
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if err.get("type") == "extra_forbidden":
        return "unknown field"
    if err.get("type") == "missing":
        return "is required"
    if err.get("type") == "union_tag_invalid":
        return f'unknown type "{err.get("ctx", {}).get("tag")}" (expected script or postgresql)'
    if err.get("type") == "union_tag_not_found":
        return "is required (script or postgresql)"
    if err.get("type") == "string_pattern_mismatch" and err["loc"][-1] == "id":
        return f'"{err.get("input")}" is not a valid id (lower-case letters, digits, "-" and "_")'
    if err.get("type") == "string_pattern_mismatch" and len(err["loc"]) > 1 and err["loc"][-2] == "env":
        return f'"{err.get("input")}" is not an environment variable name (letters, digits and "_")'
    return msg


# --- cross-reference checks ------------------------------------------------------------------------


def _semantic_problems(cfg: GrantflowConfig) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []

    def check_principal(path: tuple[str | int, ...], p: str) -> None:
        kind, sep, name = p.partition(":")
        if not sep or kind not in ("user", "group") or not name:
            problems.append((path, f'"{p}" {PRINCIPAL_HELP}'))
        elif kind == "group" and name not in cfg.groups:
            problems.append((path, f'unknown group "{name}"'))
        elif kind == "user":
            email_problem(path, name)

    def email_problem(path: tuple[str | int, ...], value: str) -> None:
        try:
            check_email(value)
        except BadEmail as exc:
            problems.append((path, str(exc)))

    for i, p in enumerate(cfg.admins):
        check_principal(("admins", i), p)
    for g, members in cfg.groups.items():
        for j, m in enumerate(members):
            email_problem(("groups", g, j), m)

    def dupes(kind: str, ids: list[str]) -> None:
        seen: set[str] = set()
        for i, x in enumerate(ids):
            if x in seen:
                problems.append(((kind, i, "id"), f'duplicate id "{x}"'))
            seen.add(x)

    dupes("integrations", [i.id for i in cfg.integrations])

    dsn_envs = {i.dsn_env: i.id for i in cfg.integrations if isinstance(i, PostgresIntegration)}
    for i_i, integration in enumerate(cfg.integrations):
        if not isinstance(integration, ScriptIntegration):
            continue
        seen_env: set[str] = set()
        for e_i, name in enumerate(integration.env):
            path = ("integrations", i_i, "env", e_i)
            if name in seen_env:
                problems.append((path, f'"{name}" is listed twice'))
            elif name in dsn_envs:
                problems.append((path, f'"{name}" holds the admin DSN of integration "{dsn_envs[name]}"; '
                                       "a script may not receive it"))
            elif reserved_env(name):
                problems.append((path, f'"{name}" is grantflow\'s own setting; a script may not receive it'))
            seen_env.add(name)
    dupes("bundles", [b.id for b in cfg.bundles])
    dupes("access_flows", [f.id for f in cfg.access_flows])

    def check_item(
        path: tuple[str | int, ...],
        integ: str,
        rtype: str | None,
        perm: str | None,
        type_at: tuple[str | int, ...] | None = None,
    ) -> None:
        """`type_at` is where the resource type is written when it is not `path.resource_type`."""
        type_path = type_at or (*path, "resource_type")
        integration = cfg.integration(integ)
        if integration is None:
            problems.append(((*path, "integration"), f'unknown integration "{integ}"'))
            return
        if isinstance(integration, ScriptIntegration):
            types = {t.id: t for t in integration.resource_types}
            if rtype is not None and rtype != "*" and rtype not in types:
                problems.append((type_path, f'integration "{integ}" has no resource type "{rtype}"'))
            elif perm is not None and perm != "*" and rtype in types and perm not in types[rtype].permissions:
                problems.append(
                    ((*path, "permission"), f'resource type "{rtype}" of "{integ}" has no permission "{perm}"')
                )
        else:
            if rtype is not None and rtype != "*" and rtype not in integration.resource_types:
                problems.append((type_path, f'integration "{integ}" has no resource type "{rtype}"'))
            elif perm is not None and perm != "*" and perm not in permission_table(integration.permissions):
                problems.append(((*path, "permission"), f'integration "{integ}" has no permission "{perm}"'))

    for i_i, integration in enumerate(cfg.integrations):
        if isinstance(integration, PostgresIntegration):
            problems += _permission_problems(("integrations", i_i, "permissions"), integration)

    for b_i, b in enumerate(cfg.bundles):
        for it_i, it in enumerate(b.items):
            check_item(("bundles", b_i, "items", it_i), it.integration, it.resource_type, it.permission)

    for f_i, f in enumerate(cfg.access_flows):
        base: tuple[str | int, ...] = ("access_flows", f_i)
        for r_i, p in enumerate(f.requestors):
            check_principal((*base, "requestors", r_i), p)
        for a_i, p in enumerate(f.approvers):
            check_principal((*base, "approvers", a_i), p)
        for e_i, p in enumerate(f.grantees):
            check_principal((*base, "grantees", e_i), p)
        for g_i, fg in enumerate(f.grants):
            gpath = (*base, "grants", g_i)
            if isinstance(fg, FlowBundleGrant):
                if cfg.bundle(fg.bundle) is None:
                    problems.append(((*gpath, "bundle"), f'unknown bundle "{fg.bundle}"'))
            else:
                check_item(gpath, fg.integration, None, None)
                target = cfg.integration(fg.integration)
                if isinstance(target, PostgresIntegration):
                    known = permission_table(target.permissions)
                    for p_i, perm in enumerate(fg.permissions):
                        if perm != "*" and perm not in known:
                            problems.append(((*gpath, "permissions", p_i),
                                             f'integration "{fg.integration}" has no permission "{perm}"'))
                for t_i, t in enumerate(fg.resource_types if cfg.integration(fg.integration) else []):
                    check_item(gpath, fg.integration, t, None, type_at=(*gpath, "resource_types", t_i))
        if f.max_duration <= 0:
            problems.append(((*base, "max_duration"), "must be greater than 0"))
        if f.default_duration > f.max_duration:
            problems.append(((*base, "default_duration"), "is longer than max_duration"))
        if f.approvals_required > 0 and not f.approvers:
            problems.append(
                (
                    (*base, "approvals_required"),
                    f"is {f.approvals_required} but the flow names no approvers (0 = automatic approval)",
                )
            )
        elif f.approvals_required > len(cfg.expand(f.approvers)) and f.approvers:
            problems.append(((*base, "approvals_required"), "is more than the number of people who can approve"))
        if f.extension.enabled and f.extension.duration <= 0:
            problems.append(((*base, "extension", "duration"), "must be greater than 0"))
        if f.approval_reminder < MIN_APPROVAL_REMINDER:
            problems.append(((*base, "approval_reminder"), "must be at least 15m"))
    return problems


def _permission_problems(at: tuple[str | int, ...],
                         integration: PostgresIntegration) -> list[tuple[tuple[str | int, ...], str]]:
    """Every permission of a postgresql integration resolved as the driver will resolve it; each bad
    token reported where it is written."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    table = permission_table(integration.permissions)
    for name, value in integration.permissions.items():
        tokens = as_tokens(value)
        for t_i, token in enumerate(tokens):
            where = (*at, name, t_i) if isinstance(value, list) else (*at, name)
            if " ".join(token.split()) in table:
                continue  # another permission: reported where it is defined
            try:
                parse_privileges([token], {})
            except PrivilegeError as exc:
                problems.append((where, str(exc)))
        try:
            if parse_privileges(tokens, table, (name,)).empty:
                problems.append(((*at, name), "maps to no privileges"))
        except PrivilegeError as exc:
            if "refers to itself" in str(exc):
                problems.append(((*at, name), str(exc)))
    return problems


# --- loading ----------------------------------------------------------------------------------------


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
    lines = _line_map(text)
    problems: list[tuple[tuple[str | int, ...], str]] = []
    try:
        cfg: GrantflowConfig | None = GrantflowConfig.model_validate(data)
        kept: dict[str, list[int]] = {}
        dropped: dict[str, set[str]] = {}
    except ValidationError as exc:
        for err in exc.errors():
            loc = _clean_loc(tuple(err["loc"]))
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc = (*loc, "type")
            problems.append((loc, _pydantic_message(err)))
        cfg, kept, dropped = _valid_rest(data, exc)
    if cfg is not None:
        for path, message in _semantic_problems(cfg):
            if any(f'unknown {kind} "{name}"' in message for kind, names in dropped.items() for name in names):
                continue  # it names an entry that is already reported as invalid
            if path and path[0] in kept and len(path) > 1 and isinstance(path[1], int):
                path = (path[0], kept[str(path[0])][path[1]], *path[2:])
            problems.append((path, message))
    if problems:
        located = [(_nearest_line(lines, path), format_path(path), message) for path, message in problems]
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
