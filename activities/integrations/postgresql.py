"""The `postgresql` integration: a short-lived login role per request, expiring on its own.

Resources are named with dots, without quoting:

- `database` — `orders`: CONNECT on the database, and the permission's privileges on every schema,
  table and sequence in it (all schemas except `pg_*` and `information_schema`).
- `schema` — `orders.sales`: CONNECT on the database, the permission's schema privileges on `sales`,
  and its table and sequence privileges on every table and sequence in `sales`.
- `table` — `orders.public.customers`, or `orders.customers` meaning schema `public`: CONNECT, USAGE on
  the schema, the table privileges on that table and the sequence privileges on the sequences it owns
  (a `serial` column's sequence, so that `write` can INSERT).

Templates and the maintenance database `postgres` are never offered. `include`/`exclude` globs (fnmatch,
case-sensitive) match these names: `include` limits what can be requested (empty = everything),
`exclude` also keeps matching schemas, tables and sequences out of database- and schema-wide grants.

Permissions name privilege sets. Built in: `read` (CONNECT, USAGE on schemas, SELECT on tables),
`write` (read + INSERT, UPDATE, DELETE on tables, USAGE and SELECT on sequences) and `admin` (write +
ALL on tables and sequences, CREATE on schemas). The config may redefine these or add names, each a
list (or comma-separated string) of privileges and other permission names. A bare privilege applies to
its natural object (CONNECT, TEMPORARY → database; USAGE, CREATE → schema; SELECT, INSERT, ..., ALL →
table); `database:`, `schema:`, `table:` or `sequence:` in front says otherwise (`sequence:USAGE`).
CONNECT and schema USAGE are always added: without them no other privilege can be used.

The role is `gf_<grantee local part>_<request id>` with a password derived from the worker's secret seed
(every item of a request and every retry agree on it) and `VALID UNTIL` the request's expiry, so
PostgreSQL itself refuses new logins after the expiry even if grantflow is down (sessions already open
continue until revoke terminates them). The password is sent as a SCRAM-SHA-256 verifier computed
client-side: the clear password never crosses the wire nor reaches the server log. Every identifier and
literal in SQL is composed with `psycopg.sql`; resource names are only ever compared as query parameters
first. The admin DSN (read from the environment variable `dsn_env`) never appears in messages; it needs
CREATEROLE and grant options on what it offers, not superuser.

Revocation hands nothing up: the objects the role created are dropped (`DROP OWNED ... CASCADE`, which
also drops triggers others' tables got from the role's functions). With `keep_objects: true` they are
reassigned to `grantflow_orphans` instead, a NOLOGIN NOINHERIT role with no privileges; its routines are
made SECURITY INVOKER and executable by no one else, and triggers the role hung on tables it does not
own are dropped, so nothing it left runs with anyone's privileges but the caller's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fnmatch
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from activities.integrations.base import GrantContext, Integration, IntegrationError
from grantflow.domain.config import PostgresIntegration
from grantflow.domain.pgprivileges import DEFAULT_PERMISSIONS, PrivilegeError, Privileges, permission_table
from grantflow.domain.pgprivileges import parse_privileges as _parse_privileges

__all__ = ["DEFAULT_PERMISSIONS", "PostgresIntegrationDriver", "Privileges", "parse_privileges", "role_name"]

ROLE_PREFIX = "gf_"
ORPHAN_ROLE = "grantflow_orphans"
MAX_IDENTIFIER_BYTES = 63
CONNECT_TIMEOUT = 10
SESSION_GONE_TIMEOUT = 5.0



def role_password(role: str, seed: bytes | None) -> str:
    """A strong password. Derived from the worker's secret seed when there is one, so that every item of
    a request (one role) and every retry of a grant agree on it; random otherwise."""
    if seed is None:
        return secrets.token_urlsafe(24)
    digest = hmac.new(seed, f"pg-password:{role}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")

_TABLE_RELKINDS = ("r", "p", "v", "m", "f")
_SYSTEM_SCHEMA_FILTER = "n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'"

# SQLSTATE classes after which a retry can succeed: connection, transaction rollback, resources,
# object in use, operator intervention, system and internal errors ("tuple concurrently updated").
_RETRYABLE_CLASSES = ("08", "40", "53", "55", "57", "58", "XX")


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


@dataclass
class _Plan:
    """The GRANT statements for one resource, resolved against the live catalog."""

    statements: list[sql.Composed] = field(default_factory=list)


def _sanitise(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def role_name(grantee: str, request_id: str) -> str:
    """`gf_<local part>_<request id>`, at most 63 bytes.

    The local part is shortened first: the request id is what makes the role unique. An id too long to
    fit at all is replaced by a prefix plus a hash of the whole id, which keeps it unique.
    """
    local = _sanitise(grantee.split("@", 1)[0]) or "user"
    rid = _sanitise(request_id) or "request"
    room = MAX_IDENTIFIER_BYTES - len(ROLE_PREFIX) - 1
    if len(rid) > room - 1:
        digest = hashlib.sha256(request_id.encode()).hexdigest()[:16]
        rid = f"{rid[: room - 1 - 17]}_{digest}"
    local = local[: room - len(rid)]
    return f"{ROLE_PREFIX}{local}_{rid}"


def parse_privileges(tokens: Iterable[str], permissions: dict[str, list[str]],
                     _seen: tuple[str, ...] = ()) -> Privileges:
    """`grantflow.domain.pgprivileges.parse_privileges`, failing as a permanent integration error."""
    try:
        return _parse_privileges(tokens, permissions, _seen)
    except PrivilegeError as exc:
        raise IntegrationError(str(exc), retryable=False) from None


def _privilege_list(privs: Iterable[str]) -> sql.Composable:
    """Privileges come from a fixed whitelist (`grantflow.domain.pgprivileges`), so they are safe as SQL keywords."""
    chosen = set(privs)
    if "ALL" in chosen:
        return sql.SQL("ALL PRIVILEGES")
    return sql.SQL(", ").join(sql.SQL(p) for p in sorted(chosen))


def _valid_until(expires_at: datetime) -> str:
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return expires_at.isoformat()


def _scram_verifier(conn: psycopg.AsyncConnection[Any], role: str, password: str) -> str:
    """libpq's PQencryptPasswordConn with an explicit algorithm: computed here, no round trip."""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


def _lock_key(name: str) -> sql.Composable:
    return sql.SQL("hashtextextended({}, 0)").format(sql.Literal(name))


class PostgresIntegrationDriver(Integration):
    def __init__(self, config: PostgresIntegration):
        self.config = config
        self.permissions: dict[str, list[str]] = permission_table(config.permissions)

    # --- configuration -------------------------------------------------------------------------

    def permission_names(self) -> list[str]:
        return sorted(self.permissions)

    def resolve_permission(self, permission: str) -> Privileges:
        if permission not in self.permissions:
            raise IntegrationError(f"{self.config.id}: unknown permission {permission!r} "
                                   f"(known: {', '.join(self.permission_names())})", retryable=False)
        try:
            privs = parse_privileges(self.permissions[permission], self.permissions, (permission,))
        except IntegrationError as exc:
            raise IntegrationError(f"{self.config.id}: permission {permission!r}: {exc}",
                                   retryable=False) from None
        if privs.empty:
            raise IntegrationError(f"{self.config.id}: permission {permission!r} maps to no privileges",
                                   retryable=False)
        return privs

    def offered(self, resource: str) -> bool:
        if self.config.include and not any(fnmatch.fnmatchcase(resource, g) for g in self.config.include):
            return False
        return not self._excluded(resource)

    def _excluded(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, g) for g in self.config.exclude)

    def parse_resource(self, resource_type: str, resource: str) -> Target:
        if resource_type not in self.config.resource_types:
            raise IntegrationError(f"{self.config.id}: resource type {resource_type!r} is not offered "
                                   f"(offered: {', '.join(self.config.resource_types)})", retryable=False)
        if not resource or "\x00" in resource or len(resource) > 3 * (MAX_IDENTIFIER_BYTES + 1):
            raise IntegrationError(f"{self.config.id}: malformed {resource_type} name {resource!r}",
                                   retryable=False)
        parts = resource.split(".")
        shapes = {"database": "DATABASE", "schema": "DATABASE.SCHEMA",
                  "table": "DATABASE.TABLE or DATABASE.SCHEMA.TABLE"}
        ok = {"database": (1,), "schema": (2,), "table": (2, 3)}[resource_type]
        if len(parts) not in ok or any(not p for p in parts):
            raise IntegrationError(f"{self.config.id}: {resource_type} must be named "
                                   f"{shapes[resource_type]}, not {resource!r}", retryable=False)
        if resource_type == "database":
            return Target("database", parts[0])
        if resource_type == "schema":
            return Target("schema", parts[0], parts[1])
        if len(parts) == 2:
            return Target("table", parts[0], "public", parts[1])
        return Target("table", parts[0], parts[1], parts[2])

    # --- connections ---------------------------------------------------------------------------

    def _admin_dsn(self) -> str:
        dsn = os.environ.get(self.config.dsn_env, "").strip()
        if not dsn:
            raise IntegrationError(f"{self.config.id}: environment variable {self.config.dsn_env} is not "
                                   f"set; it must hold the PostgreSQL admin DSN", retryable=False)
        try:
            conninfo_to_dict(dsn)
        except psycopg.Error:
            raise IntegrationError(f"{self.config.id}: the DSN in {self.config.dsn_env} is not a valid "
                                   f"PostgreSQL connection string", retryable=False) from None
        return dsn

    def _admin_password(self) -> str | None:
        dsn = os.environ.get(self.config.dsn_env, "")
        try:
            pw = conninfo_to_dict(dsn).get("password")
        except psycopg.Error:
            return None
        return str(pw) if pw else None

    def _scrub(self, text: str) -> str:
        """Messages go to people and workflow history: keep the admin password out of them."""
        pw = self._admin_password()
        if pw:
            text = text.replace(pw, "***").replace(quote(pw, safe=""), "***")
        text = re.sub(r"(://[^:/@\s]*:)[^@\s]+@", r"\1***@", text)
        return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", text, flags=re.IGNORECASE)

    def _where(self, dbname: str | None) -> str:
        params = conninfo_to_dict(self._admin_dsn())
        host = params.get("host") or params.get("hostaddr") or "localhost"
        port = params.get("port") or "5432"
        return f"{host}:{port}/{dbname or params.get('dbname') or 'postgres'}"

    async def _connect(self, dbname: str | None = None, *,
                       autocommit: bool = True) -> psycopg.AsyncConnection[Any]:
        dsn = self._admin_dsn()
        if dbname is not None:
            dsn = make_conninfo(dsn, dbname=dbname)
        try:
            return await psycopg.AsyncConnection.connect(dsn, autocommit=autocommit,
                                                         connect_timeout=CONNECT_TIMEOUT,
                                                         application_name="grantflow")
        except psycopg.Error as exc:
            reason = self._scrub(str(exc).strip())
            raise IntegrationError(f"{self.config.id}: cannot connect to PostgreSQL at "
                                   f"{self._where(dbname)}: {reason}", retryable=True) from None

    def _db_error(self, exc: psycopg.Error, doing: str) -> IntegrationError:
        state = exc.sqlstate or ""
        message = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)
        lost_connection = isinstance(exc, psycopg.OperationalError) and not state
        retryable = lost_connection or state[:2] in _RETRYABLE_CLASSES
        return IntegrationError(f"{self.config.id}: {doing} failed: {self._scrub(message.strip())}",
                                retryable=retryable)

    # --- access details ------------------------------------------------------------------------

    def _endpoint(self) -> tuple[str, int]:
        params = conninfo_to_dict(self._admin_dsn())
        dsn_host = str(params.get("host") or params.get("hostaddr") or "localhost").split(",")[0]
        host = self.config.host or dsn_host
        port = self.config.port or int(str(params.get("port") or "5432").split(",")[0])
        return host, port

    def _details(self, role: str, password: str, target: Target, ctx: GrantContext) -> dict[str, Any]:
        host, port = self._endpoint()
        database = quote(target.database, safe="")
        auth = f"{role}:{quote(password, safe='')}"
        if host.startswith("/"):
            # A Unix-socket directory cannot sit in the authority part: libpq takes it as a parameter.
            url = f"postgresql://{auth}@/{database}?host={quote(host, safe='')}&port={port}"
        else:
            url_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
            url = f"postgresql://{auth}@{url_host}:{port}/{database}"
        return {
            "host": host,
            "port": port,
            "database": target.database,
            "user": role,
            "password": password,
            "psql": f'psql "{url}"',
            "expires_at": ctx.expires_at.isoformat(),
        }

    # --- the interface -------------------------------------------------------------------------

    async def grant(self, ctx: GrantContext) -> dict[str, Any]:
        privs = self.resolve_permission(ctx.item.permission)
        target = self.parse_resource(ctx.item.resource_type, ctx.item.resource)
        if not self.offered(target.name):
            raise IntegrationError(f"{self.config.id}: {target.resource_type} {target.name!r} is not offered "
                                   f"by this integration", retryable=False)
        role = role_name(ctx.grantee, ctx.request_id)
        password = role_password(role, ctx.secret_seed)
        async with await self._connect() as conn:
            await self._check_database(conn, target.database)
            await self._lock_role(conn, role)
            verifier = _scram_verifier(conn, role, password)
            for attempt in range(2):
                try:
                    await self._grant_once(conn, target, privs, role, verifier, ctx)
                    break
                except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject) as exc:
                    # Created by someone not holding our lock (a person, another tool): ALTER it instead.
                    if attempt == 1:
                        raise self._db_error(exc, f"creating role {role}") from None
        return self._details(role, password, target, ctx)

    async def _lock_role(self, conn: psycopg.AsyncConnection[Any], role: str) -> None:
        """Serialise grantflow's changes to one role, across workers, while `conn` lives.

        Two grants of one request (its items run in parallel) would both CREATE or ALTER the role, and a
        revoke must not interleave with a grant of the same role. Different roles go in parallel.
        Advisory locks are per database: every holder takes them in the admin DSN's database.
        """
        try:
            await conn.execute("SET lock_timeout = '30s'")
            await conn.execute(sql.SQL("SELECT pg_advisory_lock({})").format(_lock_key(f"grantflow:role:{role}")))
        except psycopg.Error as exc:
            raise self._db_error(exc, f"waiting for other changes to role {role}") from None

    @contextlib.asynccontextmanager
    async def _acl_section(self, admin: psycopg.AsyncConnection[Any], role: str) -> AsyncIterator[None]:
        """The one global section: transactions that rewrite privileges on objects shared by roles.

        PostgreSQL does not queue concurrent updates of one catalog row: two GRANTs (or a GRANT and a
        DROP OWNED) that change the ACL of the same table, schema or database, whoever the grantee,
        make the later one fail with "tuple concurrently updated". So those transactions, and only
        they, run one at a time; the caller opens its connection and computes what it needs first, and
        the lock is released as soon as the transaction has committed.
        """
        key = _lock_key("grantflow:acl")
        try:
            await admin.execute(sql.SQL("SELECT pg_advisory_lock({})").format(key))
        except psycopg.Error as exc:
            raise self._db_error(exc, f"waiting for other privilege changes (role {role})") from None
        try:
            yield
        finally:
            with contextlib.suppress(psycopg.Error):
                await admin.execute(sql.SQL("SELECT pg_advisory_unlock({})").format(key))

    async def _check_database(self, conn: psycopg.AsyncConnection[Any], database: str) -> None:
        try:
            row = await (await conn.execute(
                "SELECT datallowconn FROM pg_database WHERE datname = %s AND NOT datistemplate "
                "AND datname <> 'postgres'", (database,))).fetchone()
        except psycopg.Error as exc:
            raise self._db_error(exc, "looking up the database") from None
        if row is None:
            raise IntegrationError(f"{self.config.id}: unknown database {database!r}", retryable=False)
        if not row[0]:
            raise IntegrationError(f"{self.config.id}: database {database!r} does not allow connections",
                                   retryable=False)

    async def _grant_once(self, admin: psycopg.AsyncConnection[Any], target: Target, privs: Privileges,
                          role: str, verifier: str, ctx: GrantContext) -> None:
        """One transaction in the target database: lookups, role, grants. Any failure leaves nothing."""
        async with await self._connect(target.database, autocommit=False) as conn:
            try:
                async with self._acl_section(admin, role), conn.transaction():
                    await conn.execute("SET LOCAL lock_timeout = '5s'")  # see _disown_in
                    plan = await self._plan(conn, target, privs, role)
                    exists = await (await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                                       (role,))).fetchone()
                    if exists:
                        # Only a superuser may even restate SUPERUSER, REPLICATION, ...: those were set at
                        # CREATE; a role that has them anyway was not made by us, and is refused.
                        await conn.execute(sql.SQL("ALTER ROLE {role} WITH LOGIN PASSWORD {pw} VALID UNTIL {until}"
                                                   ).format(role=sql.Identifier(role), pw=sql.Literal(verifier),
                                                            until=sql.Literal(_valid_until(ctx.expires_at))))
                        await self._check_attributes(conn, role)
                    else:
                        await conn.execute(sql.SQL(
                            "CREATE ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                            "NOBYPASSRLS PASSWORD {pw} VALID UNTIL {until}").format(
                                role=sql.Identifier(role), pw=sql.Literal(verifier),
                                until=sql.Literal(_valid_until(ctx.expires_at))))
                    await conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(
                        sql.Identifier(role),
                        sql.Literal(f"grantflow request {ctx.request_id} for {ctx.grantee}")))
                    if not exists:
                        await self._adopt(conn, role)
                    for statement in plan.statements:
                        await conn.execute(statement)
            except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
                raise
            except psycopg.Error as exc:
                raise self._db_error(exc, f"granting {ctx.item.permission} on {target.name}") from None

    async def _check_attributes(self, conn: psycopg.AsyncConnection[Any], role: str) -> None:
        row = await (await conn.execute(
            "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls "
            "OR EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) FROM pg_roles r "
            "WHERE rolname = %s", (role,))).fetchone()
        if row is not None and row[0]:
            raise IntegrationError(f"{self.config.id}: role {role} already exists with attributes or "
                                   f"memberships grantflow never gives; refusing to hand it out", retryable=False)

    async def _adopt(self, conn: psycopg.AsyncConnection[Any], role: str) -> None:
        """A non-superuser admin (CREATEROLE) must hold the privileges of a role it made to end its
        sessions and drop what it owns at revoke time; PostgreSQL 16+ only gives it ADMIN OPTION."""
        row = await (await conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).fetchone()
        if row is not None and not row[0]:
            await conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))

    async def _plan(self, conn: psycopg.AsyncConnection[Any], target: Target, privs: Privileges,
                    role: str) -> _Plan:
        """Check the target exists now and compose the GRANTs; unknown objects are permanent errors."""
        plan = _Plan()
        grantee = sql.Identifier(role)
        db_privs = (privs.database | {"CONNECT"}) if target.resource_type == "database" else {"CONNECT"}
        plan.statements.append(sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
            _privilege_list(db_privs), sql.Identifier(target.database), grantee))

        if target.resource_type == "table":
            assert target.schema is not None and target.table is not None
            oid = await self._table_oid(conn, target.schema, target.table)
            if oid is None:
                raise IntegrationError(f"{self.config.id}: unknown table {target.name!r}", retryable=False)
            plan.statements.append(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(target.schema), grantee))
            if privs.table:
                plan.statements.append(sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                    _privilege_list(privs.table), sql.Identifier(target.schema, target.table), grantee))
            if privs.sequence:
                seqs = await self._owned_sequences(conn, oid)
                if seqs:
                    plan.statements.append(sql.SQL("GRANT {} ON SEQUENCE {} TO {}").format(
                        _privilege_list(privs.sequence),
                        sql.SQL(", ").join(sql.Identifier(s, n) for s, n in seqs), grantee))
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
            plan.statements.append(sql.SQL("GRANT {} ON SCHEMA {} TO {}").format(
                _privilege_list(privs.schema | {"USAGE"}), sql.Identifier(schema), grantee))
            tables, sequences = await self._objects(conn, target.database, schema)
            if privs.table and tables:
                plan.statements.append(sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                    _privilege_list(privs.table),
                    sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables), grantee))
            if privs.sequence and sequences:
                plan.statements.append(sql.SQL("GRANT {} ON SEQUENCE {} TO {}").format(
                    _privilege_list(privs.sequence),
                    sql.SQL(", ").join(sql.Identifier(schema, s) for s in sequences), grantee))
        return plan

    async def _schemas(self, conn: psycopg.AsyncConnection[Any]) -> list[str]:
        cur = await conn.execute(
            f"SELECT n.nspname FROM pg_namespace n WHERE {_SYSTEM_SCHEMA_FILTER} ORDER BY 1")
        return [r[0] for r in await cur.fetchall()]

    async def _table_oid(self, conn: psycopg.AsyncConnection[Any], schema: str, table: str) -> int | None:
        cur = await conn.execute(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname = %s AND c.relname = %s AND c.relkind = ANY(%s) AND {_SYSTEM_SCHEMA_FILTER}",
            (schema, table, list(_TABLE_RELKINDS)))
        row = await cur.fetchone()
        return int(row[0]) if row else None

    async def _owned_sequences(self, conn: psycopg.AsyncConnection[Any],
                               table_oid: int) -> list[tuple[str, str]]:
        cur = await conn.execute(
            "SELECT DISTINCT n.nspname, s.relname FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_namespace n ON n.oid = s.relnamespace "
            "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
            "AND d.refobjid = %s AND d.deptype IN ('a', 'i') ORDER BY 1, 2", (table_oid,))
        return [(r[0], r[1]) for r in await cur.fetchall()]

    async def _objects(self, conn: psycopg.AsyncConnection[Any], database: str,
                       schema: str) -> tuple[list[str], list[str]]:
        """Tables and sequences of a schema, minus excluded ones (and sequences of excluded tables)."""
        cur = await conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = ANY(%s) ORDER BY 1", (schema, list(_TABLE_RELKINDS)))
        tables = [r[0] for r in await cur.fetchall() if not self._excluded(f"{database}.{schema}.{r[0]}")]
        cur = await conn.execute(
            "SELECT s.relname, t.relname FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace "
            "LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass "
            "  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
            "LEFT JOIN pg_class t ON t.oid = d.refobjid "
            "WHERE n.nspname = %s AND s.relkind = 'S' ORDER BY 1", (schema,))
        sequences = []
        for seq, owner in await cur.fetchall():
            if self._excluded(f"{database}.{schema}.{seq}"):
                continue
            if owner is not None and self._excluded(f"{database}.{schema}.{owner}"):
                continue
            if seq not in sequences:
                sequences.append(seq)
        return tables, sequences

    async def extend(self, ctx: GrantContext) -> None:
        role = role_name(ctx.grantee, ctx.request_id)
        async with await self._connect() as conn:
            await self._lock_role(conn, role)
            try:
                exists = await (await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                                   (role,))).fetchone()
                if not exists:
                    raise IntegrationError(f"{self.config.id}: role {role} does not exist (was it revoked?)",
                                           retryable=False)
                await conn.execute(sql.SQL("ALTER ROLE {} VALID UNTIL {}").format(
                    sql.Identifier(role), sql.Literal(_valid_until(ctx.expires_at))))
            except psycopg.Error as exc:
                raise self._db_error(exc, f"extending role {role}") from None

    async def revoke(self, ctx: GrantContext) -> None:
        await self.drop_role(role_name(ctx.grantee, ctx.request_id))

    async def drop_role(self, role: str) -> None:
        """Lock the role out, end its sessions, drop (or quarantine) what it owns, drop it. Safe to repeat."""
        async with await self._connect() as conn:
            await self._lock_role(conn, role)
            try:
                exists = await (await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                                   (role,))).fetchone()
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
            "AND has_database_privilege(d.datname, 'CONNECT'))) ORDER BY 1", (role,))
        return [r[0] for r in await cur.fetchall()]

    async def _ensure_orphan_role(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """`grantflow_orphans`: owns what grantees left behind with `keep_objects`; cannot log in, inherits
        nothing, has no privileges, and no one is a member of it but a non-superuser admin (which needs
        its privileges for REASSIGN OWNED)."""
        row = await (await conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).fetchone()
        superuser = bool(row and row[0])
        exists = await (await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                           (ORPHAN_ROLE,))).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                await conn.execute(sql.SQL(
                    "CREATE ROLE {} NOLOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                    "NOBYPASSRLS").format(sql.Identifier(ORPHAN_ROLE)))
                await conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(
                    sql.Identifier(ORPHAN_ROLE),
                    sql.Literal("grantflow: owns objects kept from revoked grants (keep_objects)")))
        if not superuser:
            await conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(ORPHAN_ROLE)))

    async def _end_sessions(self, conn: psycopg.AsyncConnection[Any], role: str) -> None:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                           (role,))
        deadline = asyncio.get_running_loop().time() + SESSION_GONE_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            row = await (await conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s",
                                            (role,))).fetchone()
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

    async def _disown_in(self, admin: psycopg.AsyncConnection[Any], conn: psycopg.AsyncConnection[Any],
                         database: str, role: str) -> None:
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
            "WHERE NOT t.tgisinternal AND r.rolname = %s AND c.relowner <> p.proowner", (role,))
        for trigger, schema, table in await cur.fetchall():
            await conn.execute(sql.SQL("DROP TRIGGER {} ON {}").format(
                sql.Identifier(trigger), sql.Identifier(schema, table)))
        await conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(
            sql.Identifier(role), sql.Identifier(ORPHAN_ROLE)))
        cur = await conn.execute(
            "SELECT p.oid::regprocedure::text, p.prosecdef, "
            "  ARRAY(SELECT DISTINCT a.grantee FROM aclexplode(p.proacl) a WHERE a.grantee <> p.proowner) "
            "FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner "
            "WHERE r.rolname = %s AND p.prokind IN ('f', 'p') AND (p.prosecdef OR p.proacl IS NULL OR "
            "  EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee <> p.proowner))", (ORPHAN_ROLE,))
        for signature, secdef, grantees in await cur.fetchall():
            routine = sql.SQL(signature)  # regprocedure output: quoted, schema-qualified by PostgreSQL
            if secdef:
                await conn.execute(sql.SQL("ALTER ROUTINE {} SECURITY INVOKER").format(routine))
            await conn.execute(sql.SQL("REVOKE ALL ON ROUTINE {} FROM PUBLIC").format(routine))
            for oid in grantees:
                if oid == 0:
                    continue
                name = await (await conn.execute("SELECT rolname FROM pg_roles WHERE oid = %s",
                                                 (oid,))).fetchone()
                if name is not None:
                    await conn.execute(sql.SQL("REVOKE ALL ON ROUTINE {} FROM {}").format(
                        routine, sql.Identifier(name[0])))

    async def _database_gone(self, database: str) -> bool:
        async with await self._connect() as conn:
            row = await (await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                            (database,))).fetchone()
        return row is None

    async def list_resources(self, resource_type: str) -> list[str]:
        if resource_type not in self.config.resource_types:
            raise IntegrationError(f"{self.config.id}: resource type {resource_type!r} is not offered",
                                   retryable=False)
        async with await self._connect() as conn:
            try:
                cur = await conn.execute("SELECT datname FROM pg_database WHERE NOT datistemplate "
                                         "AND datallowconn AND datname <> 'postgres' ORDER BY 1")
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
                    f"WHERE c.relkind = ANY(%s) AND {_SYSTEM_SCHEMA_FILTER} ORDER BY 1, 2",
                    (list(_TABLE_RELKINDS),))
                return [f"{database}.{s}.{t}" for s, t in await cur.fetchall()]
            except psycopg.Error as exc:
                raise self._db_error(exc, f"listing {resource_type}s in {database}") from None

    async def list_grantflow_roles(self) -> list[str]:
        """Every role this integration may have made, for reconciliation against live requests."""
        async with await self._connect() as conn:
            try:
                cur = await conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s ORDER BY 1",
                                         (ROLE_PREFIX.replace("_", "\\_") + "%",))
                return [r[0] for r in await cur.fetchall()]
            except psycopg.Error as exc:
                raise self._db_error(exc, "listing grantflow roles") from None
