"""Grant and extend: create or update the request's login role and grant it the permission's privileges."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from activities.integrations.base import GrantContext, IntegrationError
from activities.integrations.postgresql.catalog import PostgresCatalog
from activities.integrations.postgresql.names import role_name, role_password, scram_verifier, valid_until
from activities.integrations.postgresql.privileges import Plan, privilege_list
from activities.integrations.postgresql.resources import Target
from grantflow.domain.pgprivileges import Privileges


class PostgresGrants(PostgresCatalog):
    """One transaction per grant in the target database, under the role lock and the ACL section."""

    async def grant(self, ctx: GrantContext) -> dict[str, Any]:
        privs = self.resolve_permission(ctx.item.permission)
        target = self.parse_resource(ctx.item.resource_type, ctx.item.resource)
        if not self.offered(target.name):
            raise IntegrationError(
                f"{self.config.id}: {target.resource_type} {target.name!r} is not offered by this integration",
                retryable=False,
            )
        role = role_name(ctx.grantee, ctx.request_id)
        password = role_password(role, ctx.secret_seed)
        async with await self._connect() as conn:
            await self._check_database(conn, target.database)
            await self._lock_role(conn, role)
            verifier = scram_verifier(conn, role, password)
            for attempt in range(2):
                try:
                    await self._grant_once(conn, target, privs, role, verifier, ctx)
                    break
                except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject) as exc:
                    # Created by someone not holding our lock (a person, another tool): ALTER it instead.
                    if attempt == 1:
                        raise self._db_error(exc, f"creating role {role}") from None
        return self._details(role, password, target, ctx)

    async def _grant_once(
        self,
        admin: psycopg.AsyncConnection[Any],
        target: Target,
        privs: Privileges,
        role: str,
        verifier: str,
        ctx: GrantContext,
    ) -> None:
        """One transaction in the target database: lookups, role, grants. Any failure leaves nothing."""
        async with await self._connect(target.database, autocommit=False) as conn:
            try:
                async with self._acl_section(admin, role), conn.transaction():
                    await conn.execute("SET LOCAL lock_timeout = '5s'")  # see _disown_in
                    plan = await self._plan(conn, target, privs, role)
                    exists = await (await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))).fetchone()
                    if exists:
                        # Only a superuser may even restate SUPERUSER, REPLICATION, ...: those were set at
                        # CREATE; a role that has them anyway was not made by us, and is refused.
                        await conn.execute(
                            sql.SQL("ALTER ROLE {role} WITH LOGIN PASSWORD {pw} VALID UNTIL {until}").format(
                                role=sql.Identifier(role),
                                pw=sql.Literal(verifier),
                                until=sql.Literal(valid_until(ctx.expires_at)),
                            )
                        )
                        await self._check_attributes(conn, role)
                    else:
                        await conn.execute(
                            sql.SQL(
                                "CREATE ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                                "NOBYPASSRLS PASSWORD {pw} VALID UNTIL {until}"
                            ).format(
                                role=sql.Identifier(role),
                                pw=sql.Literal(verifier),
                                until=sql.Literal(valid_until(ctx.expires_at)),
                            )
                        )
                    await conn.execute(
                        sql.SQL("COMMENT ON ROLE {} IS {}").format(
                            sql.Identifier(role), sql.Literal(f"grantflow request {ctx.request_id} for {ctx.grantee}")
                        )
                    )
                    if not exists:
                        await self._adopt(conn, role)
                    for statement in plan.statements:
                        await conn.execute(statement)
            except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
                raise
            except psycopg.Error as exc:
                raise self._db_error(exc, f"granting {ctx.item.permission} on {target.name}") from None

    async def _check_attributes(self, conn: psycopg.AsyncConnection[Any], role: str) -> None:
        row = await (
            await conn.execute(
                "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls "
                "OR EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) FROM pg_roles r "
                "WHERE rolname = %s",
                (role,),
            )
        ).fetchone()
        if row is not None and row[0]:
            raise IntegrationError(
                f"{self.config.id}: role {role} already exists with attributes or "
                f"memberships grantflow never gives; refusing to hand it out",
                retryable=False,
            )

    async def _adopt(self, conn: psycopg.AsyncConnection[Any], role: str) -> None:
        """A non-superuser admin (CREATEROLE) must hold the privileges of a role it made to end its
        sessions and drop what it owns at revoke time; PostgreSQL 16+ only gives it ADMIN OPTION."""
        row = await (await conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).fetchone()
        if row is not None and not row[0]:
            await conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))

    async def _plan(self, conn: psycopg.AsyncConnection[Any], target: Target, privs: Privileges, role: str) -> Plan:
        """Check the target exists now and compose the GRANTs; unknown objects are permanent errors."""
        plan = Plan()
        grantee = sql.Identifier(role)
        db_privs = (privs.database | {"CONNECT"}) if target.resource_type == "database" else {"CONNECT"}
        plan.statements.append(
            sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
                privilege_list(db_privs), sql.Identifier(target.database), grantee
            )
        )

        if target.resource_type == "table":
            assert target.schema is not None and target.table is not None
            oid = await self._table_oid(conn, target.schema, target.table)
            if oid is None:
                raise IntegrationError(f"{self.config.id}: unknown table {target.name!r}", retryable=False)
            plan.statements.append(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(target.schema), grantee)
            )
            if privs.table:
                plan.statements.append(
                    sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                        privilege_list(privs.table), sql.Identifier(target.schema, target.table), grantee
                    )
                )
            if privs.sequence:
                seqs = await self._owned_sequences(conn, oid)
                if seqs:
                    plan.statements.append(
                        sql.SQL("GRANT {} ON SEQUENCE {} TO {}").format(
                            privilege_list(privs.sequence),
                            sql.SQL(", ").join(sql.Identifier(s, n) for s, n in seqs),
                            grantee,
                        )
                    )
            return plan

        if target.resource_type == "schema":
            assert target.schema is not None
            schemas = await self._schemas(conn)
            if target.schema not in schemas:
                raise IntegrationError(f"{self.config.id}: unknown schema {target.name!r}", retryable=False)
            schemas = [target.schema]
        else:
            schemas = [s for s in await self._schemas(conn) if not self._excluded(f"{target.database}.{s}")]

        for schema in schemas:
            plan.statements.append(
                sql.SQL("GRANT {} ON SCHEMA {} TO {}").format(
                    privilege_list(privs.schema | {"USAGE"}), sql.Identifier(schema), grantee
                )
            )
            tables, sequences = await self._objects(conn, target.database, schema)
            if privs.table and tables:
                plan.statements.append(
                    sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                        privilege_list(privs.table),
                        sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables),
                        grantee,
                    )
                )
            if privs.sequence and sequences:
                plan.statements.append(
                    sql.SQL("GRANT {} ON SEQUENCE {} TO {}").format(
                        privilege_list(privs.sequence),
                        sql.SQL(", ").join(sql.Identifier(schema, s) for s in sequences),
                        grantee,
                    )
                )
        return plan

    async def extend(self, ctx: GrantContext) -> None:
        role = role_name(ctx.grantee, ctx.request_id)
        async with await self._connect() as conn:
            await self._lock_role(conn, role)
            try:
                exists = await (await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))).fetchone()
                if not exists:
                    raise IntegrationError(
                        f"{self.config.id}: role {role} does not exist (was it revoked?)", retryable=False
                    )
                await conn.execute(
                    sql.SQL("ALTER ROLE {} VALID UNTIL {}").format(
                        sql.Identifier(role), sql.Literal(valid_until(ctx.expires_at))
                    )
                )
            except psycopg.Error as exc:
                raise self._db_error(exc, f"extending role {role}") from None
