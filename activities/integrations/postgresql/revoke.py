"""Revoke: lock the role out, end its sessions, drop or quarantine what it owns (disown), drop it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg
from psycopg import sql

from activities.integrations.base import GrantContext, IntegrationError
from activities.integrations.postgresql.catalog import PostgresCatalog
from activities.integrations.postgresql.names import ORPHAN_ROLE, role_name

SESSION_GONE_TIMEOUT = 5.0


class PostgresRevokes(PostgresCatalog):
    """Revocation hands nothing up; safe to repeat."""

    async def revoke(self, ctx: GrantContext) -> None:
        await self.drop_role(role_name(ctx.grantee, ctx.request_id))

    async def drop_role(self, role: str) -> None:
        """Lock the role out, end its sessions, drop (or quarantine) what it owns, drop it. Safe to repeat."""
        async with await self._connect() as conn:
            await self._lock_role(conn, role)
            try:
                exists = await (await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))).fetchone()
                if not exists:
                    return
                await conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))
                await self._end_sessions(conn, role)
                if self.config.keep_objects:
                    await self._ensure_orphan_role(conn)
                databases = await self._databases_with_traces(conn, role)
            except psycopg.Error as exc:
                raise self._db_error(exc, f"locking out role {role}") from None
            for database in databases:
                await self._disown(conn, database, role)
            try:
                await self._end_sessions(conn, role)
                await conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            except psycopg.Error as exc:
                raise self._db_error(exc, f"dropping role {role}") from None

    async def _databases_with_traces(self, conn: psycopg.AsyncConnection[Any], role: str) -> list[str]:
        """The databases where the role owns something or holds a privilege, from PostgreSQL's own record
        of it (pg_shdepend, what DROP ROLE checks). Privileges on shared objects (CONNECT on a database)
        are recorded without a database: they go in the admin DSN's database."""
        cur = await conn.execute(
            "SELECT DISTINCT coalesce(d.datname, current_database()) FROM pg_shdepend s "
            "LEFT JOIN pg_database d ON d.oid = s.dbid "
            "WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = (SELECT oid FROM pg_roles "
            "WHERE rolname = %s) AND (d.oid IS NULL OR (d.datallowconn "
            "AND has_database_privilege(d.datname, 'CONNECT'))) ORDER BY 1",
            (role,),
        )
        return [r[0] for r in await cur.fetchall()]

    async def _ensure_orphan_role(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """`grantflow_orphans`: owns what grantees left behind with `keep_objects`; cannot log in, inherits
        nothing, has no privileges, and no one is a member of it but a non-superuser admin (which needs
        its privileges for REASSIGN OWNED)."""
        row = await (await conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).fetchone()
        superuser = bool(row and row[0])
        exists = await (await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ORPHAN_ROLE,))).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                await conn.execute(
                    sql.SQL(
                        "CREATE ROLE {} NOLOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
                    ).format(sql.Identifier(ORPHAN_ROLE))
                )
                await conn.execute(
                    sql.SQL("COMMENT ON ROLE {} IS {}").format(
                        sql.Identifier(ORPHAN_ROLE),
                        sql.Literal("grantflow: owns objects kept from revoked grants (keep_objects)"),
                    )
                )
        if not superuser:
            await conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(ORPHAN_ROLE)))

    async def _end_sessions(self, conn: psycopg.AsyncConnection[Any], role: str) -> None:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
        deadline = asyncio.get_running_loop().time() + SESSION_GONE_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            row = await (
                await conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,))
            ).fetchone()
            if row is None or row[0] == 0:
                return
            await asyncio.sleep(0.05)

    async def _disown(self, admin: psycopg.AsyncConnection[Any], database: str, role: str) -> None:
        if database == admin.info.dbname:
            await self._disown_in(admin, admin, database, role)  # no second connection to the same place
            return
        try:
            conn = await self._connect(database, autocommit=False)
        except IntegrationError:
            if await self._database_gone(database):
                return
            raise
        async with conn:
            await self._disown_in(admin, conn, database, role)

    async def _disown_in(
        self, admin: psycopg.AsyncConnection[Any], conn: psycopg.AsyncConnection[Any], database: str, role: str
    ) -> None:
        try:
            async with self._acl_section(admin, role), conn.transaction():
                # Inside the global section: a table lock held by someone's long query must not stall
                # every other grant and revoke. Giving up is retryable; the activity tries again.
                await conn.execute("SET LOCAL lock_timeout = '5s'")
                if self.config.keep_objects:
                    await self._quarantine(conn, role)
                    await conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                else:
                    # CASCADE: a trigger the role hung on someone else's table with its own function
                    # goes with the function instead of blocking the revoke.
                    await conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
        except psycopg.errors.UndefinedObject:
            return  # dropped meanwhile by another attempt
        except psycopg.Error as exc:
            raise self._db_error(exc, f"removing privileges of {role} in {database}") from None

    async def _quarantine(self, conn: psycopg.AsyncConnection[Any], role: str) -> None:
        """Hand the role's objects in this database to `grantflow_orphans`, defused.

        What an attacker could leave behind to run with someone else's privileges: a SECURITY DEFINER
        routine (runs as its owner), and a trigger on a table it does not own (its function runs as
        whoever writes to the table, e.g. the admin). Triggers are dropped; routines become SECURITY
        INVOKER and lose every EXECUTE grant, so only their owner (no one) and superusers can call them.
        """
        cur = await conn.execute(
            "SELECT t.tgname, n.nspname, c.relname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_roles r ON r.oid = p.proowner "
            "WHERE NOT t.tgisinternal AND r.rolname = %s AND c.relowner <> p.proowner",
            (role,),
        )
        for trigger, schema, table in await cur.fetchall():
            await conn.execute(
                sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(trigger), sql.Identifier(schema, table))
            )
        await conn.execute(
            sql.SQL("REASSIGN OWNED BY {} TO {}").format(sql.Identifier(role), sql.Identifier(ORPHAN_ROLE))
        )
        cur = await conn.execute(
            "SELECT p.oid::regprocedure::text, p.prosecdef, "
            "  ARRAY(SELECT DISTINCT a.grantee FROM aclexplode(p.proacl) a WHERE a.grantee <> p.proowner) "
            "FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner "
            "WHERE r.rolname = %s AND p.prokind IN ('f', 'p') AND (p.prosecdef OR p.proacl IS NULL OR "
            "  EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee <> p.proowner))",
            (ORPHAN_ROLE,),
        )
        for signature, secdef, grantees in await cur.fetchall():
            routine = sql.SQL(signature)  # regprocedure output: quoted, schema-qualified by PostgreSQL
            if secdef:
                await conn.execute(sql.SQL("ALTER ROUTINE {} SECURITY INVOKER").format(routine))
            await conn.execute(sql.SQL("REVOKE ALL ON ROUTINE {} FROM PUBLIC").format(routine))
            for oid in grantees:
                if oid == 0:
                    continue
                name = await (await conn.execute("SELECT rolname FROM pg_roles WHERE oid = %s", (oid,))).fetchone()
                if name is not None:
                    await conn.execute(
                        sql.SQL("REVOKE ALL ON ROUTINE {} FROM {}").format(routine, sql.Identifier(name[0]))
                    )
