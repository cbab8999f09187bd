"""PostgreSQL permission names → privilege sets: the one parser the `postgresql` integration grants with
and `grantflow config check` validates with (so a privilege the driver would refuse fails the check).

A permission is a list (or comma-separated string) of privileges and other permission names. A bare
privilege applies to its natural object (CONNECT, TEMPORARY → database; USAGE, CREATE → schema; SELECT,
INSERT, ..., ALL → table); `database:`, `schema:`, `table:` or `sequence:` in front says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

ObjectKind = Literal["database", "schema", "table", "sequence"]


class PrivilegeError(ValueError):
    """A permission that does not resolve; the message names the offending token."""


_PRIVILEGES: dict[ObjectKind, frozenset[str]] = {
    "database": frozenset({"CONNECT", "CREATE", "TEMPORARY", "ALL"}),
    "schema": frozenset({"USAGE", "CREATE", "ALL"}),
    "table": frozenset(
        {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN", "ALL"}
    ),
    "sequence": frozenset({"USAGE", "SELECT", "UPDATE", "ALL"}),
}
_NATURAL_KIND: dict[str, ObjectKind] = {
    "CONNECT": "database",
    "TEMPORARY": "database",
    "USAGE": "schema",
    "CREATE": "schema",
    **{p: "table" for p in _PRIVILEGES["table"]},
}
_ALIASES = {"TEMP": "TEMPORARY", "ALL PRIVILEGES": "ALL"}

DEFAULT_PERMISSIONS: dict[str, list[str]] = {
    "read": ["CONNECT", "USAGE", "SELECT"],
    "write": ["read", "INSERT", "UPDATE", "DELETE", "sequence:USAGE", "sequence:SELECT"],
    "admin": ["write", "ALL", "sequence:ALL", "CREATE"],
}


@dataclass(frozen=True)
class Privileges:
    """Privileges per object kind; what a permission name resolves to."""

    database: frozenset[str] = frozenset()
    schema: frozenset[str] = frozenset()
    table: frozenset[str] = frozenset()
    sequence: frozenset[str] = frozenset()

    def add(self, kind: ObjectKind, privilege: str) -> Privileges:
        current: frozenset[str] = getattr(self, kind)
        return Privileges(**{**self._as_dict(), kind: current | {privilege}})

    def __or__(self, other: Privileges) -> Privileges:
        return Privileges(
            self.database | other.database,
            self.schema | other.schema,
            self.table | other.table,
            self.sequence | other.sequence,
        )

    def _as_dict(self) -> dict[str, frozenset[str]]:
        return {"database": self.database, "schema": self.schema, "table": self.table, "sequence": self.sequence}

    @property
    def empty(self) -> bool:
        return not (self.database or self.schema or self.table or self.sequence)


def parse_privileges(
    tokens: Iterable[str], permissions: dict[str, list[str]], _seen: tuple[str, ...] = ()
) -> Privileges:
    """Resolve privilege tokens and permission names (recursively) into a `Privileges`."""
    result = Privileges()
    for raw in tokens:
        token = " ".join(raw.split())
        if not token:
            continue
        if token in permissions:
            if token in _seen:
                raise PrivilegeError(f"permission {token!r} refers to itself")
            result = result | parse_privileges(permissions[token], permissions, (*_seen, token))
            continue
        kind_text, sep, priv_text = token.partition(":")
        priv = (priv_text if sep else kind_text).strip().upper()
        priv = _ALIASES.get(priv, priv)
        if sep:
            kind = kind_text.strip().lower()
            if kind not in _PRIVILEGES:
                raise PrivilegeError(
                    f"unknown object kind {kind_text!r} in privilege {token!r} "
                    f"(expected database, schema, table or sequence)"
                )
            if priv not in _PRIVILEGES[kind]:  # type: ignore[index]
                raise PrivilegeError(f"{priv} is not a {kind} privilege (in {token!r})")
            result = result.add(kind, priv)  # type: ignore[arg-type]
        elif priv in _NATURAL_KIND:
            result = result.add(_NATURAL_KIND[priv], priv)
        else:
            raise PrivilegeError(f"unknown privilege or permission {token!r}")
    return result


def as_tokens(value: str | list[str]) -> list[str]:
    return value.split(",") if isinstance(value, str) else list(value)


def permission_table(configured: dict[str, str | list[str]]) -> dict[str, list[str]]:
    """The built-in permissions overridden and extended by an integration's `permissions:`."""
    return {**DEFAULT_PERMISSIONS, **{name: as_tokens(value) for name, value in configured.items()}}
