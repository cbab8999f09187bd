"""Cross-reference checks of a schema-valid config: principals, ids, references, durations, permissions."""

from __future__ import annotations

from collections.abc import Callable, Collection

from grantflow.domain import mysqlprivileges
from grantflow.domain.config.quorum import quorum_problems
from grantflow.domain.config.schema import (
    APPROVAL_TIMEOUT_SECONDS,
    AwsIdentityCenterIntegration,
    EscalationStep,
    FlowBundleGrant,
    GrantflowConfig,
    MysqlIntegration,
    PostgresIntegration,
    ScriptIntegration,
    WebhookIntegration,
    reserved_env,
)
from grantflow.domain.durations import format_duration
from grantflow.domain.emails import BadEmail, check_email
from grantflow.domain.oncall import BadHandover, parse_handover
from grantflow.domain.pgprivileges import PrivilegeError, as_tokens, parse_privileges, permission_table

# Each reminder is a timer, a publish and history events for as long as the request waits (7 days): a short
# interval would loop a pending workflow towards Temporal's history limit for nothing.
MIN_APPROVAL_REMINDER = 15 * 60

PRINCIPAL_HELP = 'must be "user:EMAIL" or "group:NAME"'


def semantic_problems(cfg: GrantflowConfig) -> list[tuple[tuple[str | int, ...], str]]:
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

    dsn_envs = {i.dsn_env: i.id for i in cfg.integrations if isinstance(i, PostgresIntegration | MysqlIntegration)}
    for i_i, integration in enumerate(cfg.integrations):
        if not isinstance(integration, ScriptIntegration):
            continue
        seen_env: set[str] = set()
        for e_i, name in enumerate(integration.env):
            path = ("integrations", i_i, "env", e_i)
            if name in seen_env:
                problems.append((path, f'"{name}" is listed twice'))
            elif name in dsn_envs:
                problems.append(
                    (
                        path,
                        f'"{name}" holds the admin DSN of integration "{dsn_envs[name]}"; a script may not receive it',
                    )
                )
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
        if isinstance(integration, ScriptIntegration | WebhookIntegration):
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
            elif perm is not None and perm != "*" and perm not in _permission_names(integration):
                problems.append(((*path, "permission"), f'integration "{integ}" has no permission "{perm}"'))

    for i_i, integration in enumerate(cfg.integrations):
        if isinstance(integration, PostgresIntegration):
            problems += _permission_problems(("integrations", i_i, "permissions"), integration)
        elif isinstance(integration, MysqlIntegration):
            problems += _mysql_permission_problems(("integrations", i_i, "permissions"), integration)
        problems += target_problems(("integrations", i_i), integration, set(dsn_envs))

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
                if isinstance(target, PostgresIntegration | MysqlIntegration | AwsIdentityCenterIntegration):
                    known = _permission_names(target)
                    for p_i, perm in enumerate(fg.permissions):
                        if perm != "*" and perm not in known:
                            problems.append(
                                (
                                    (*gpath, "permissions", p_i),
                                    f'integration "{fg.integration}" has no permission "{perm}"',
                                )
                            )
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
        problems += _escalation_problems(base, f.escalation, check_principal)
        if f.auto_approve_if_oncall is not None and f.auto_approve_if_oncall not in cfg.oncall:
            schedules = ", ".join(sorted(cfg.oncall)) or "none defined"
            problems.append(
                (
                    (*base, "auto_approve_if_oncall"),
                    f'unknown on-call schedule "{f.auto_approve_if_oncall}" (oncall: {schedules})',
                )
            )
    problems += _oncall_problems(cfg)
    return problems + quorum_problems(cfg)


def _escalation_problems(
    base: tuple[str | int, ...],
    steps: list[EscalationStep],
    check_principal: Callable[[tuple[str | int, ...], str], None],
) -> list[tuple[tuple[str | int, ...], str]]:
    """Each step after the previous one, before the approval time-out; its approvers valid principals."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    previous = 0
    for s_i, step in enumerate(steps):
        at: tuple[str | int, ...] = (*base, "escalation", s_i)
        if step.after <= previous:
            what = "must be greater than 0" if s_i == 0 else "must be later than the previous step's"
            problems.append(((*at, "after"), what))
        elif step.after >= APPROVAL_TIMEOUT_SECONDS:
            problems.append(
                (
                    (*at, "after"),
                    f"is {format_duration(step.after)}, not before the approval time-out "
                    f"({format_duration(APPROVAL_TIMEOUT_SECONDS)}): the request would have failed by then",
                )
            )
        previous = max(previous, step.after)
        for a_i, p in enumerate(step.approvers):
            check_principal((*at, "approvers", a_i), p)
    return problems


def _oncall_problems(cfg: GrantflowConfig) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for name, sched in cfg.oncall.items():
        at: tuple[str | int, ...] = ("oncall", name)
        if bool(sched.rotation) == bool(sched.command):
            problems.append((at, "give either rotation (with handover) or command, not both or neither"))
        if sched.rotation:
            if sched.handover is None:
                problems.append((at, "a rotation needs a handover, e.g. 'monday 09:00 Europe/Berlin'"))
            else:
                try:
                    parse_handover(sched.handover)
                except BadHandover as exc:
                    problems.append(((*at, "handover"), str(exc)))
            for r_i, email in enumerate(sched.rotation):
                try:
                    check_email(email)
                except BadEmail as exc:
                    problems.append(((*at, "rotation", r_i), str(exc)))
        for e_i, env in enumerate(sched.env):
            if reserved_env(env):
                problems.append(((*at, "env", e_i), f"{env} is grantflow's own setting and never reaches a command"))
    return problems


def _permission_problems(
    at: tuple[str | int, ...], integration: PostgresIntegration
) -> list[tuple[tuple[str | int, ...], str]]:
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


def _permission_names(
    integration: PostgresIntegration | MysqlIntegration | AwsIdentityCenterIntegration,
) -> Collection[str]:
    if isinstance(integration, AwsIdentityCenterIntegration):
        return set(integration.permission_sets)
    if isinstance(integration, MysqlIntegration):
        return mysqlprivileges.permission_table(integration.permissions)
    return permission_table(integration.permissions)


def _mysql_permission_problems(
    at: tuple[str | int, ...], integration: MysqlIntegration
) -> list[tuple[tuple[str | int, ...], str]]:
    """Every permission of a mysql integration resolved as the driver will resolve it: each unknown or
    refused privilege reported where it is written (`file:LINE`)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    table = mysqlprivileges.permission_table(integration.permissions)
    for name, value in integration.permissions.items():
        tokens = as_tokens(value)
        for t_i, token in enumerate(tokens):
            where = (*at, name, t_i) if isinstance(value, list) else (*at, name)
            if " ".join(token.split()) in table:
                continue
            try:
                mysqlprivileges.parse_privileges([token], {})
            except PrivilegeError as exc:
                problems.append((where, str(exc)))
        try:
            privs = mysqlprivileges.parse_privileges(tokens, table, (name,))
        except PrivilegeError as exc:
            if "refers to itself" in str(exc):
                problems.append(((*at, name), str(exc)))
            continue
        if not privs:
            problems.append(((*at, name), "maps to no privileges"))
        elif "table" in integration.resource_types and not mysqlprivileges.table_privileges(privs):
            problems.append(((*at, name), "has no privilege that applies to a table (resource type table)"))
    return problems


def target_problems(
    at: tuple[str | int, ...], integration: object, dsn_envs: set[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Checks of one `webhook` or `aws_identity_center` integration that its schema cannot express."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(integration, WebhookIntegration):
        for name, env in integration.headers.items():
            if env in dsn_envs:
                problems.append(((*at, "headers", name), f'"{env}" holds an admin DSN; it may not be sent'))
            elif reserved_env(env):
                problems.append(((*at, "headers", name), f'"{env}" is grantflow\'s own setting; it may not be sent'))
        if integration.secret_env in integration.headers.values():
            problems.append(((*at, "secret_env"), "is also sent as a header: the signing secret must stay secret"))
        seen: set[str] = set()
        for t_i, rt in enumerate(integration.resource_types):
            if rt.id in seen:
                problems.append(((*at, "resource_types", t_i, "id"), f'duplicate resource type "{rt.id}"'))
            seen.add(rt.id)
            if rt.resources and rt.discovery_url:
                problems.append(
                    ((*at, "resource_types", t_i, "discovery_url"), "give resources or discovery_url, not both")
                )
            if not rt.permissions:
                problems.append(((*at, "resource_types", t_i, "permissions"), "lists no permissions"))
    elif isinstance(integration, AwsIdentityCenterIntegration):
        names: set[str] = set()
        for p_i, name in enumerate(integration.permission_sets):
            where = (*at, "permission_sets", p_i)
            if name in names:
                problems.append((where, f'"{name}" is listed twice'))
            elif integration.managed_prefix and not name.startswith(integration.managed_prefix):
                problems.append(
                    (
                        where,
                        f'"{name}" does not start with managed_prefix "{integration.managed_prefix}": '
                        "reconcile would never see its assignments",
                    )
                )
            names.add(name)
    return problems
