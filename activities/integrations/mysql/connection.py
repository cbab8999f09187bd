"""The admin connection (DSN from the environment, scrubbed errors), identifier quoting, the account lock.

PyMySQL is synchronous: every method here runs inside `asyncio.to_thread` (see driver.py), one
connection per call, closed on the way out.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from collections.abc import Iterator
from typing import Any, TypeAlias
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
import pymysql.cursors

from activities.integrations.base import Integration, IntegrationError
from grantflow.domain import mysqlprivileges
from grantflow.domain.config import MysqlIntegration

CONNECT_TIMEOUT = 10
LOCK_TIMEOUT = 30
# Client errors (lost or refused connection) and server errors after which a retry can succeed: too many
# connections, lock wait timeout, deadlock, server shutdown, connection killed, query interrupted.
RETRYABLE_CODES = frozenset({1040, 1053, 1205, 1213, 1317, 1927, 2002, 2003, 2006, 2013, 2055})
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})

Cursor: TypeAlias = pymysql.cursors.Cursor


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_grant_db(name: str) -> str:
    """A database name in `GRANT ... ON db.*`: there `_` and `%` are wildcards, so they are escaped
    (otherwise a grant on `my_db` would also cover `myXdb`)."""
    return quote_ident(name.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%"))


def error_code(exc: BaseException) -> int:
    args = getattr(exc, "args", ())
    return int(args[0]) if args and isinstance(args[0], int) else 0


class MysqlConnections(Integration):
    """The configuration side and the admin connection; no grant logic."""

    def __init__(self, config: MysqlIntegration):
        self.config = config
        self.permissions = mysqlprivileges.permission_table(config.permissions)

    # --- the admin DSN -------------------------------------------------------------------------

    def _dsn(self) -> dict[str, Any]:
        raw = os.environ.get(self.config.dsn_env, "").strip()
        if not raw:
            raise IntegrationError(
                f"{self.config.id}: environment variable {self.config.dsn_env} is not set; it must hold "
                f"the MySQL admin DSN (mysql://USER:PASSWORD@HOST:PORT/)",
                retryable=False,
            )
        try:
            url = urlsplit(raw)
            port = url.port
        except ValueError:
            url, port = None, None
        if url is None or url.scheme not in ("mysql", "mariadb") or not url.username:
            raise IntegrationError(
                f"{self.config.id}: the DSN in {self.config.dsn_env} is not mysql://USER:PASSWORD@HOST:PORT/",
                retryable=False,
            )
        params: dict[str, Any] = {
            "host": url.hostname or "localhost",
            "port": port or 3306,
            "user": unquote(url.username),
            "password": unquote(url.password or ""),
        }
        socket_path = parse_qs(url.query).get("unix_socket")
        if socket_path:
            params["unix_socket"] = socket_path[0]
        return params

    def _scrub(self, text: str) -> str:
        """Messages go to people, logs and workflow history: keep the admin password out of them."""
        with contextlib.suppress(IntegrationError):
            pw = self._dsn()["password"]
            if pw:
                text = text.replace(pw, "***")
        return text

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Cursor]:
        params = self._dsn()
        try:
            conn = pymysql.connect(
                **params, autocommit=True, connect_timeout=CONNECT_TIMEOUT, program_name="grantflow", charset="utf8mb4"
            )
        except pymysql.MySQLError as exc:
            where = params.get("unix_socket") or f"{params['host']}:{params['port']}"
            raise IntegrationError(
                f"{self.config.id}: cannot connect to MySQL at {where}: {self._scrub(str(exc))}", retryable=True
            ) from None
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def _db_error(self, exc: pymysql.MySQLError, doing: str) -> IntegrationError:
        code = error_code(exc)
        retryable = code in RETRYABLE_CODES or isinstance(exc, pymysql.err.InterfaceError)
        message = exc.args[1] if len(exc.args) > 1 else str(exc)
        return IntegrationError(f"{self.config.id}: {doing} failed: {self._scrub(str(message))}", retryable=retryable)

    @staticmethod
    def _is_mariadb(cur: Cursor) -> bool:
        cur.execute("SELECT VERSION()")
        row = cur.fetchone()
        return bool(row) and "mariadb" in str(row[0]).lower()

    def _lock_account(self, cur: Cursor, user: str) -> None:
        """Serialise grantflow's changes to one account across workers while the connection lives (a grant
        of two items of one request, a revoke racing a retried grant). Released when the connection closes."""
        try:
            cur.execute("SELECT GET_LOCK(%s, %s)", (f"grantflow:account:{user}", LOCK_TIMEOUT))
            row = cur.fetchone()
        except pymysql.MySQLError as exc:
            raise self._db_error(exc, f"waiting for other changes to account {user}") from None
        if not row or row[0] != 1:
            raise IntegrationError(
                f"{self.config.id}: timed out waiting for other changes to account {user}", retryable=True
            )

    def _hosts(self, cur: Cursor, user: str) -> list[str]:
        cur.execute("SELECT Host FROM mysql.user WHERE User = %s ORDER BY Host", (user,))
        return [str(r[0]) for r in cur.fetchall()]

    # --- what is offered -----------------------------------------------------------------------

    def offered(self, resource: str) -> bool:
        """`include` globs limit what can be requested; `exclude` globs match a database (which keeps its
        tables out too) or a `database.table`."""
        if self.config.include and not any(fnmatch.fnmatchcase(resource, g) for g in self.config.include):
            return False
        names = {resource, resource.split(".", 1)[0]}
        return not any(fnmatch.fnmatchcase(n, g) for n in names for g in self.config.exclude)

    def resolve_permission(self, permission: str) -> frozenset[str]:
        if permission not in self.permissions:
            raise IntegrationError(
                f"{self.config.id}: unknown permission {permission!r} (known: {', '.join(sorted(self.permissions))})",
                retryable=False,
            )
        try:
            privs = mysqlprivileges.parse_privileges(self.permissions[permission], self.permissions, (permission,))
        except mysqlprivileges.PrivilegeError as exc:
            raise IntegrationError(f"{self.config.id}: permission {permission!r}: {exc}", retryable=False) from None
        if not privs:
            raise IntegrationError(
                f"{self.config.id}: permission {permission!r} maps to no privileges", retryable=False
            )
        return privs

    def parse_resource(self, resource_type: str, resource: str) -> tuple[str, str | None]:
        """`database` → (db, None); `table` → (db, table). Names are checked against the server later."""
        if resource_type not in self.config.resource_types:
            raise IntegrationError(
                f"{self.config.id}: resource type {resource_type!r} is not offered "
                f"(offered: {', '.join(self.config.resource_types)})",
                retryable=False,
            )
        parts = resource.split(".")
        want = 1 if resource_type == "database" else 2
        if len(parts) != want or any(not p or len(p) > 64 or "\x00" in p for p in parts):
            shape = "DATABASE" if resource_type == "database" else "DATABASE.TABLE"
            raise IntegrationError(
                f"{self.config.id}: {resource_type} must be named {shape}, not {resource!r}", retryable=False
            )
        if parts[0].lower() in SYSTEM_DATABASES:
            raise IntegrationError(f"{self.config.id}: system database {parts[0]!r} is never offered", retryable=False)
        return parts[0], (parts[1] if want == 2 else None)
