"""Privilege sets as SQL: the permission table parsed into `Privileges`, composed into GRANT statements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from psycopg import sql

from activities.integrations.base import IntegrationError
from grantflow.domain.pgprivileges import PrivilegeError, Privileges
from grantflow.domain.pgprivileges import parse_privileges as _parse_privileges


@dataclass
class Plan:
    """The GRANT statements for one resource, resolved against the live catalog."""

    statements: list[sql.Composed] = field(default_factory=list)


def parse_privileges(
    tokens: Iterable[str], permissions: dict[str, list[str]], _seen: tuple[str, ...] = ()
) -> Privileges:
    """`grantflow.domain.pgprivileges.parse_privileges`, failing as a permanent integration error."""
    try:
        return _parse_privileges(tokens, permissions, _seen)
    except PrivilegeError as exc:
        raise IntegrationError(str(exc), retryable=False) from None


def privilege_list(privs: Iterable[str]) -> sql.Composable:
    """Privileges come from a fixed whitelist (`grantflow.domain.pgprivileges`), so they are safe as SQL keywords."""
    chosen = set(privs)
    if "ALL" in chosen:
        return sql.SQL("ALL PRIVILEGES")
    return sql.SQL(", ").join(sql.SQL(p) for p in sorted(chosen))
