"""The `mysql` integration class: grant, extend, revoke (lock, kill, drop), discovery and reconcile listing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pymysql

from activities.integrations.base import GrantContext, IntegrationError, ListsOwnAccounts
from activities.integrations.mysql.connection import (
    SYSTEM_DATABASES,
    Cursor,
    MysqlConnections,
    error_code,
    quote_grant_db,
    quote_ident,
)
from activities.integrations.mysql.names import (
    ACCOUNT_PREFIX,
    account_name,
    account_password,
    expire_days,
    is_grantflow_account,
    native_hash,
)
from grantflow.domain.mysqlprivileges import table_privileges

SESSION_GONE_TIMEOUT = 5.0
ER_NO_SUCH_THREAD = 1094
ACCESS_DENIED = frozenset({1044, 1142, 1143, 1227, 1370})


def _privilege_sql(privs: frozenset[str]) -> str:
    """Privileges come from a fixed whitelist (`grantflow.domain.mysqlprivileges`): safe as SQL keywords."""
    return "ALL PRIVILEGES" if "ALL" in privs else ", ".join(sorted(privs))


class MysqlIntegrationDriver(MysqlConnections, ListsOwnAccounts):
    """One `gf_` account per request (see the package docstring)."""

    def account_for(self, grantee: str, request_id: str) -> str:
        return account_name(grantee, request_id)

    def _account(self, cur: Cursor, user: str, host: str | None = None) -> str:
        conn = cur.connection
        return f"{conn.escape(user)}@{conn.escape(host if host is not None else self.config.account_host)}"

    def _auth(self, cur: Cursor, password: str, mariadb: bool) -> str:
        if mariadb:
            return f"IDENTIFIED BY PASSWORD {cur.connection.escape(native_hash(password))}"
        # MySQL 8 has no client-side form for caching_sha2_password; it rewrites the statement in its logs.
        return f"IDENTIFIED BY {cur.connection.escape(password)}"

    # --- grant and extend ----------------------------------------------------------------------

    async def grant(self, ctx: GrantContext) -> dict[str, Any]:
        return await asyncio.to_thread(self._grant, ctx)

    def _grant(self, ctx: GrantContext) -> dict[str, Any]:
        privs = self.resolve_permission(ctx.item.permission)
        database, table = self.parse_resource(ctx.item.resource_type, ctx.item.resource)
        if not self.offered(ctx.item.resource):
            raise IntegrationError(
                f"{self.config.id}: {ctx.item.resource_type} {ctx.item.resource!r} is not offered by this integration",
                retryable=False,
            )
        if table is not None:
            privs = table_privileges(privs)
            if not privs:
                raise IntegrationError(
                    f"{self.config.id}: permission {ctx.item.permission!r} has no privilege that applies to a table",
                    retryable=False,
                )
        user = account_name(ctx.grantee, ctx.request_id)
        password = account_password(user, ctx.secret_seed)
        with self._connect() as cur:
            self._lock_account(cur, user)
            try:
                self._check_exists(cur, database, table)
                auth = self._auth(cur, password, self._is_mariadb(cur))
                days = expire_days(ctx.expires_at, datetime.now(UTC))
                account = self._account(cur, user)
                cur.execute(f"CREATE USER IF NOT EXISTS {account} {auth} PASSWORD EXPIRE INTERVAL {days} DAY")
                # Also when it existed (a retry, another item of the request): same password, fresh expiry.
                cur.execute(f"ALTER USER {account} {auth} PASSWORD EXPIRE INTERVAL {days} DAY ACCOUNT UNLOCK")
                on = f"{quote_ident(database)}.{quote_ident(table)}" if table else f"{quote_grant_db(database)}.*"
                cur.execute(f"GRANT {_privilege_sql(privs)} ON {on} TO {account}")
            except pymysql.MySQLError as exc:
                raise self._db_error(exc, f"granting {ctx.item.permission} on {ctx.item.resource}") from None
        return self._details(user, password, database, table, ctx)

    def _check_exists(self, cur: Cursor, database: str, table: str | None) -> None:
        cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
        if cur.fetchone() is None:
            raise IntegrationError(f"{self.config.id}: unknown database {database!r}", retryable=False)
        if table is not None:
            cur.execute(
                "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (database, table)
            )
            if cur.fetchone() is None:
                raise IntegrationError(f"{self.config.id}: unknown table {database}.{table!r}", retryable=False)

    def _details(self, user: str, password: str, database: str, table: str | None, ctx: GrantContext) -> dict[str, Any]:
        dsn = self._dsn()
        host = self.config.host or dsn["host"]
        port = self.config.port or dsn["port"]
        out: dict[str, Any] = {
            "host": host,
            "port": port,
            "database": database,
            "user": user,
            "password": password,
            "dsn": f"mysql://{user}:{password}@{host}:{port}/{database}",
            "mysql": f"mysql -h {host} -P {port} -u {user} -p {database}",
            "expires_at": ctx.expires_at.isoformat(),
        }
        if table is not None:
            out["table"] = table
        return out

    async def extend(self, ctx: GrantContext) -> None:
        await asyncio.to_thread(self._extend, ctx)

    def _extend(self, ctx: GrantContext) -> None:
        user = account_name(ctx.grantee, ctx.request_id)
        with self._connect() as cur:
            self._lock_account(cur, user)
            try:
                if self.config.account_host not in self._hosts(cur, user):
                    raise IntegrationError(
                        f"{self.config.id}: account {user} does not exist (was it revoked?)", retryable=False
                    )
                account = self._account(cur, user)
                days = expire_days(ctx.expires_at, datetime.now(UTC))
                if ctx.secret_seed is None:
                    # The password cannot be set again: count from its last change, a day late at worst.
                    cur.execute(f"ALTER USER {account} PASSWORD EXPIRE INTERVAL {days + 1} DAY")
                else:
                    password = account_password(user, ctx.secret_seed)
                    auth = self._auth(cur, password, self._is_mariadb(cur))
                    cur.execute(f"ALTER USER {account} {auth} PASSWORD EXPIRE INTERVAL {days} DAY")
            except pymysql.MySQLError as exc:
                raise self._db_error(exc, f"extending account {user}") from None

    # --- revoke --------------------------------------------------------------------------------

    async def revoke(self, ctx: GrantContext) -> None:
        await self.drop_role(account_name(ctx.grantee, ctx.request_id))

    async def drop_role(self, handle: str) -> None:
        await asyncio.to_thread(self._drop, handle)

    def _drop(self, user: str) -> None:
        """ACCOUNT LOCK (no new logins), KILL every connection of the account, DROP USER. Safe to repeat;
        an account that is not there is success. Names not of grantflow's shape are refused."""
        if not is_grantflow_account(user):
            raise IntegrationError(f"{self.config.id}: {user!r} is not an account grantflow made", retryable=False)
        with self._connect() as cur:
            self._lock_account(cur, user)
            try:
                hosts = self._hosts(cur, user)
                for host in hosts:
                    cur.execute(f"ALTER USER IF EXISTS {self._account(cur, user, host)} ACCOUNT LOCK")
                self._kill_sessions(cur, user)
                for host in hosts:
                    self._drop_definer_objects(cur, user, host)
                    cur.execute(f"DROP USER IF EXISTS {self._account(cur, user, host)}")
                self._kill_sessions(cur, user)
            except pymysql.MySQLError as exc:
                raise self._db_error(exc, f"revoking account {user}") from None

    def _drop_definer_objects(self, cur: Cursor, user: str, host: str) -> None:
        """Drop the triggers, views, routines and events the account is DEFINER of (what `admin` may have
        created), like PostgreSQL's DROP OWNED: a trigger left behind would make every write to its table
        fail once its definer is gone, and MySQL 8.0.22+ refuses DROP USER while such objects exist.
        An object the admin may not drop is left (inert on MariaDB: its definer no longer exists)."""
        definer = f"{user}@{host}"
        queries = (
            ("SELECT TRIGGER_SCHEMA, TRIGGER_NAME, 'TRIGGER' FROM information_schema.TRIGGERS WHERE DEFINER = %s"),
            ("SELECT TABLE_SCHEMA, TABLE_NAME, 'VIEW' FROM information_schema.VIEWS WHERE DEFINER = %s"),
            ("SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE DEFINER = %s"),
            ("SELECT EVENT_SCHEMA, EVENT_NAME, 'EVENT' FROM information_schema.EVENTS WHERE DEFINER = %s"),
        )
        found: list[tuple[str, str, str]] = []
        for query in queries:
            cur.execute(query, (definer,))
            found += [(str(r[0]), str(r[1]), str(r[2])) for r in cur.fetchall()]
        for schema, name, kind in found:
            if kind not in ("TRIGGER", "VIEW", "PROCEDURE", "FUNCTION", "EVENT"):
                continue
            try:
                cur.execute(f"DROP {kind} IF EXISTS {quote_ident(schema)}.{quote_ident(name)}")
            except pymysql.MySQLError as exc:
                if error_code(exc) not in ACCESS_DENIED:
                    raise

    def _sessions(self, cur: Cursor, user: str) -> list[int]:
        cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s AND ID <> CONNECTION_ID()", (user,))
        return [int(r[0]) for r in cur.fetchall()]

    def _kill_sessions(self, cur: Cursor, user: str) -> None:
        deadline = time.monotonic() + SESSION_GONE_TIMEOUT
        killed: set[int] = set()
        while True:
            ids = self._sessions(cur, user)
            if not ids or time.monotonic() > deadline:
                return
            for thread_id in ids:
                if thread_id in killed:
                    continue
                try:
                    cur.execute(f"KILL CONNECTION {int(thread_id)}")
                except pymysql.MySQLError as exc:
                    if error_code(exc) != ER_NO_SUCH_THREAD:  # ended meanwhile
                        raise
                killed.add(thread_id)
            time.sleep(0.05)

    # --- discovery and reconcile ---------------------------------------------------------------

    async def list_resources(self, resource_type: str) -> list[str]:
        if resource_type not in self.config.resource_types:
            raise IntegrationError(f"{self.config.id}: resource type {resource_type!r} is not offered", retryable=False)
        return await asyncio.to_thread(self._list, resource_type)

    def _list(self, resource_type: str) -> list[str]:
        system = sorted(SYSTEM_DATABASES)
        marks = ", ".join(["%s"] * len(system))
        with self._connect() as cur:
            try:
                if resource_type == "database":
                    cur.execute(
                        f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ({marks}) "
                        "ORDER BY 1",
                        system,
                    )
                    found = [str(r[0]) for r in cur.fetchall()]
                else:
                    cur.execute(
                        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
                        f"WHERE TABLE_SCHEMA NOT IN ({marks}) ORDER BY 1, 2",
                        system,
                    )
                    found = [f"{r[0]}.{r[1]}" for r in cur.fetchall()]
            except pymysql.MySQLError as exc:
                raise self._db_error(exc, f"listing {resource_type}s") from None
        return [r for r in found if self.offered(r)]

    async def list_grantflow_roles(self) -> list[str]:
        return await asyncio.to_thread(self._list_accounts)

    def _list_accounts(self) -> list[str]:
        """Every `gf_` user name (reconcile reports those no request made as unmanaged and leaves them)."""
        with self._connect() as cur:
            try:
                cur.execute(
                    "SELECT DISTINCT User FROM mysql.user WHERE User LIKE %s ORDER BY 1",
                    (ACCOUNT_PREFIX.replace("_", "\\_") + "%",),
                )
                return [str(r[0]) for r in cur.fetchall()]
            except pymysql.MySQLError as exc:
                raise self._db_error(exc, "listing grantflow accounts") from None
