"""What the integration offers: its permissions, its include/exclude globs and resource names."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from activities.integrations.base import Integration, IntegrationError
from activities.integrations.postgresql.names import MAX_IDENTIFIER_BYTES
from activities.integrations.postgresql.privileges import parse_privileges
from grantflow.domain.config import PostgresIntegration
from grantflow.domain.pgprivileges import Privileges, permission_table


@dataclass(frozen=True)
class Target:
    """A parsed resource name."""

    resource_type: str
    database: str
    schema: str | None = None
    table: str | None = None

    @property
    def name(self) -> str:
        return ".".join(p for p in (self.database, self.schema, self.table) if p is not None)


class PostgresResources(Integration):
    """The configuration side of the driver: no connection to PostgreSQL is made here."""

    def __init__(self, config: PostgresIntegration):
        self.config = config
        self.permissions: dict[str, list[str]] = permission_table(config.permissions)

    def permission_names(self) -> list[str]:
        return sorted(self.permissions)

    def resolve_permission(self, permission: str) -> Privileges:
        if permission not in self.permissions:
            raise IntegrationError(
                f"{self.config.id}: unknown permission {permission!r} (known: {', '.join(self.permission_names())})",
                retryable=False,
            )
        try:
            privs = parse_privileges(self.permissions[permission], self.permissions, (permission,))
        except IntegrationError as exc:
            raise IntegrationError(f"{self.config.id}: permission {permission!r}: {exc}", retryable=False) from None
        if privs.empty:
            raise IntegrationError(
                f"{self.config.id}: permission {permission!r} maps to no privileges", retryable=False
            )
        return privs

    def offered(self, resource: str) -> bool:
        if self.config.include and not any(fnmatch.fnmatchcase(resource, g) for g in self.config.include):
            return False
        return not self._excluded(resource)

    def _excluded(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, g) for g in self.config.exclude)

    def parse_resource(self, resource_type: str, resource: str) -> Target:
        if resource_type not in self.config.resource_types:
            raise IntegrationError(
                f"{self.config.id}: resource type {resource_type!r} is not offered "
                f"(offered: {', '.join(self.config.resource_types)})",
                retryable=False,
            )
        if not resource or "\x00" in resource or len(resource) > 3 * (MAX_IDENTIFIER_BYTES + 1):
            raise IntegrationError(f"{self.config.id}: malformed {resource_type} name {resource!r}", retryable=False)
        parts = resource.split(".")
        shapes = {
            "database": "DATABASE",
            "schema": "DATABASE.SCHEMA",
            "table": "DATABASE.TABLE or DATABASE.SCHEMA.TABLE",
        }
        ok = {"database": (1,), "schema": (2,), "table": (2, 3)}[resource_type]
        if len(parts) not in ok or any(not p for p in parts):
            raise IntegrationError(
                f"{self.config.id}: {resource_type} must be named {shapes[resource_type]}, not {resource!r}",
                retryable=False,
            )
        if resource_type == "database":
            return Target("database", parts[0])
        if resource_type == "schema":
            return Target("schema", parts[0], parts[1])
        if len(parts) == 2:
            return Target("table", parts[0], "public", parts[1])
        return Target("table", parts[0], parts[1], parts[2])
