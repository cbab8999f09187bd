"""MySQL/MariaDB permission names → privilege sets: the one parser the `mysql` integration grants with and
`grantflow config check` validates with (a privilege the driver would refuse fails the check).

A permission is a list (or comma-separated string) of privileges and other permission names. Only
database- and table-level privileges exist here: global ones (SUPER, FILE, PROCESS, CREATE USER, ...) and
GRANT OPTION are refused, since a grantee holding them could outlive its own revocation. On a `table`
resource only the privileges MySQL allows on a table are granted (`table_privileges`); ALL means ALL
PRIVILEGES at the resource's level (never GRANT OPTION).
"""

from __future__ import annotations

from collections.abc import Iterable

from grantflow.domain.pgprivileges import PrivilegeError, as_tokens

__all__ = [
    "DATABASE_PRIVILEGES",
    "DEFAULT_PERMISSIONS",
    "TABLE_PRIVILEGES",
    "PrivilegeError",
    "as_tokens",
    "parse_privileges",
    "permission_table",
    "table_privileges",
]

TABLE_PRIVILEGES = frozenset(
    {
        "ALL",
        "ALTER",
        "CREATE",
        "CREATE VIEW",
        "DELETE",
        "DELETE HISTORY",
        "DROP",
        "INDEX",
        "INSERT",
        "REFERENCES",
        "SELECT",
        "SHOW VIEW",
        "TRIGGER",
        "UPDATE",
    }
)
DATABASE_PRIVILEGES = TABLE_PRIVILEGES | {
    "ALTER ROUTINE",
    "CREATE ROUTINE",
    "CREATE TEMPORARY TABLES",
    "EVENT",
    "EXECUTE",
    "LOCK TABLES",
}
_ALIASES = {"ALL PRIVILEGES": "ALL"}
_REFUSED = {"GRANT OPTION": "GRANT OPTION would let the grantee hand its access on to others"}

DEFAULT_PERMISSIONS: dict[str, list[str]] = {
    "read": ["SELECT", "SHOW VIEW"],
    "write": ["read", "INSERT", "UPDATE", "DELETE", "CREATE TEMPORARY TABLES", "LOCK TABLES"],
    "admin": ["write", "ALL"],
}


def parse_privileges(
    tokens: Iterable[str], permissions: dict[str, list[str]], _seen: tuple[str, ...] = ()
) -> frozenset[str]:
    """Resolve privilege tokens and permission names (recursively) into privilege names (upper case)."""
    result: set[str] = set()
    for raw in tokens:
        token = " ".join(raw.split())
        if not token:
            continue
        if token in permissions:
            if token in _seen:
                raise PrivilegeError(f"permission {token!r} refers to itself")
            result |= parse_privileges(permissions[token], permissions, (*_seen, token))
            continue
        priv = _ALIASES.get(token.upper(), token.upper())
        if priv in _REFUSED:
            raise PrivilegeError(f"{priv} is not allowed: {_REFUSED[priv]}")
        if priv not in DATABASE_PRIVILEGES:
            raise PrivilegeError(
                f"unknown privilege or permission {token!r} (MySQL database or table privileges: "
                f"{', '.join(sorted(DATABASE_PRIVILEGES))})"
            )
        result.add(priv)
    return frozenset(result)


def table_privileges(privs: frozenset[str]) -> frozenset[str]:
    """The part of a privilege set MySQL accepts on a single table."""
    return privs & TABLE_PRIVILEGES


def permission_table(configured: dict[str, str | list[str]]) -> dict[str, list[str]]:
    """The built-in permissions overridden and extended by an integration's `permissions:`."""
    return {**DEFAULT_PERMISSIONS, **{name: as_tokens(value) for name, value in configured.items()}}
