"""Discovery: what exists in the live catalog (databases, schemas, tables, sequences, grantflow roles)."""

from __future__ import annotations

from typing import Any

import psycopg

from activities.integrations.base import IntegrationError
from activities.integrations.postgresql.connections import PostgresConnections
from activities.integrations.postgresql.names import ROLE_PREFIX

TABLE_RELKINDS = ("r", "p", "v", "m", "f")
SYSTEM_SCHEMA_FILTER = "n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'"


class PostgresCatalog(PostgresConnections):
    """Read-only queries of PostgreSQL's catalogs; `list_resources` for pickers and assist."""

    async def _check_database(self, conn: psycopg.AsyncConnection[Any], database: str) -> None:
        try:
            row = await (
                await conn.execute(
                    "SELECT datallowconn FROM pg_database WHERE datname = %s AND NOT datistemplate "
                    "AND datname <> 'postgres'",
                    (database,),
                )
            ).fetchone()
        except psycopg.Error as exc:
            raise self._db_error(exc, "looking up the database") from None
        if row is None:
            raise IntegrationError(f"{self.config.id}: unknown database {database!r}", retryable=False)
        if not row[0]:
            raise IntegrationError(
                f"{self.config.id}: database {database!r} does not allow connections", retryable=False
            )

    async def _schemas(self, conn: psycopg.AsyncConnection[Any]) -> list[str]:
        cur = await conn.execute(f"SELECT n.nspname FROM pg_namespace n WHERE {SYSTEM_SCHEMA_FILTER} ORDER BY 1")
        return [r[0] for r in await cur.fetchall()]

    async def _table_oid(self, conn: psycopg.AsyncConnection[Any], schema: str, table: str) -> int | None:
        cur = await conn.execute(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname = %s AND c.relname = %s AND c.relkind = ANY(%s) AND {SYSTEM_SCHEMA_FILTER}",
            (schema, table, list(TABLE_RELKINDS)),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else None

    async def _owned_sequences(self, conn: psycopg.AsyncConnection[Any], table_oid: int) -> list[tuple[str, str]]:
        cur = await conn.execute(
            "SELECT DISTINCT n.nspname, s.relname FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_namespace n ON n.oid = s.relnamespace "
            "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
            "AND d.refobjid = %s AND d.deptype IN ('a', 'i') ORDER BY 1, 2",
            (table_oid,),
        )
        return [(r[0], r[1]) for r in await cur.fetchall()]

    async def _objects(
        self, conn: psycopg.AsyncConnection[Any], database: str, schema: str
    ) -> tuple[list[str], list[str]]:
        """Tables and sequences of a schema, minus excluded ones (and sequences of excluded tables)."""
        cur = await conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = ANY(%s) ORDER BY 1",
            (schema, list(TABLE_RELKINDS)),
        )
        tables = [r[0] for r in await cur.fetchall() if not self._excluded(f"{database}.{schema}.{r[0]}")]
        cur = await conn.execute(
            "SELECT s.relname, t.relname FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace "
            "LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass "
            "  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
            "LEFT JOIN pg_class t ON t.oid = d.refobjid "
            "WHERE n.nspname = %s AND s.relkind = 'S' ORDER BY 1",
            (schema,),
        )
        sequences = []
        for seq, owner in await cur.fetchall():
            if self._excluded(f"{database}.{schema}.{seq}"):
                continue
            if owner is not None and self._excluded(f"{database}.{schema}.{owner}"):
                continue
            if seq not in sequences:
                sequences.append(seq)
        return tables, sequences

    async def _database_gone(self, database: str) -> bool:
        async with await self._connect() as conn:
            row = await (await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))).fetchone()
        return row is None

    async def list_resources(self, resource_type: str) -> list[str]:
        if resource_type not in self.config.resource_types:
            raise IntegrationError(f"{self.config.id}: resource type {resource_type!r} is not offered", retryable=False)
        async with await self._connect() as conn:
            try:
                cur = await conn.execute(
                    "SELECT datname FROM pg_database WHERE NOT datistemplate "
                    "AND datallowconn AND datname <> 'postgres' ORDER BY 1"
                )
                databases = [r[0] for r in await cur.fetchall()]
            except psycopg.Error as exc:
                raise self._db_error(exc, "listing databases") from None
        found: list[str] = []
        if resource_type == "database":
            found = databases
        else:
            for database in databases:
                if self._excluded(database):
                    continue
                found += await self._list_in(database, resource_type)
        return [r for r in found if self.offered(r)]

    async def _list_in(self, database: str, resource_type: str) -> list[str]:
        try:
            conn = await self._connect(database)
        except IntegrationError:
            if await self._database_gone(database):
                return []
            raise
        async with conn:
            try:
                if resource_type == "schema":
                    return [f"{database}.{s}" for s in await self._schemas(conn)]
                cur = await conn.execute(
                    "SELECT n.nspname, c.relname FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    f"WHERE c.relkind = ANY(%s) AND {SYSTEM_SCHEMA_FILTER} ORDER BY 1, 2",
                    (list(TABLE_RELKINDS),),
                )
                return [f"{database}.{s}.{t}" for s, t in await cur.fetchall()]
            except psycopg.Error as exc:
                raise self._db_error(exc, f"listing {resource_type}s in {database}") from None

    async def list_grantflow_roles(self) -> list[str]:
        """Every role this integration may have made, for reconciliation against live requests."""
        async with await self._connect() as conn:
            try:
                cur = await conn.execute(
                    "SELECT rolname FROM pg_roles WHERE rolname LIKE %s ORDER BY 1",
                    (ROLE_PREFIX.replace("_", "\\_") + "%",),
                )
                return [r[0] for r in await cur.fetchall()]
            except psycopg.Error as exc:
                raise self._db_error(exc, "listing grantflow roles") from None
