"""Admin connections (DSN from the environment, scrubbed errors), the grantee's connection line, locks."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from activities.integrations.base import GrantContext, IntegrationError
from activities.integrations.postgresql.resources import PostgresResources, Target

CONNECT_TIMEOUT = 10

# SQLSTATE classes after which a retry can succeed: connection, transaction rollback, resources,
# object in use, operator intervention, system and internal errors ("tuple concurrently updated").
RETRYABLE_CLASSES = ("08", "40", "53", "55", "57", "58", "XX")


def lock_key(name: str) -> sql.Composable:
    return sql.SQL("hashtextextended({}, 0)").format(sql.Literal(name))


class PostgresConnections(PostgresResources):
    """Connections to the admin DSN, the errors they raise, and the advisory locks taken on them."""

    def _admin_dsn(self) -> str:
        dsn = os.environ.get(self.config.dsn_env, "").strip()
        if not dsn:
            raise IntegrationError(
                f"{self.config.id}: environment variable {self.config.dsn_env} is not "
                f"set; it must hold the PostgreSQL admin DSN",
                retryable=False,
            )
        try:
            conninfo_to_dict(dsn)
        except psycopg.Error:
            raise IntegrationError(
                f"{self.config.id}: the DSN in {self.config.dsn_env} is not a valid PostgreSQL connection string",
                retryable=False,
            ) from None
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

    async def _connect(self, dbname: str | None = None, *, autocommit: bool = True) -> psycopg.AsyncConnection[Any]:
        dsn = self._admin_dsn()
        if dbname is not None:
            dsn = make_conninfo(dsn, dbname=dbname)
        try:
            return await psycopg.AsyncConnection.connect(
                dsn, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT, application_name="grantflow"
            )
        except psycopg.Error as exc:
            reason = self._scrub(str(exc).strip())
            raise IntegrationError(
                f"{self.config.id}: cannot connect to PostgreSQL at {self._where(dbname)}: {reason}", retryable=True
            ) from None

    def _db_error(self, exc: psycopg.Error, doing: str) -> IntegrationError:
        state = exc.sqlstate or ""
        message = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)
        lost_connection = isinstance(exc, psycopg.OperationalError) and not state
        retryable = lost_connection or state[:2] in RETRYABLE_CLASSES
        return IntegrationError(
            f"{self.config.id}: {doing} failed: {self._scrub(message.strip())}", retryable=retryable
        )

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

    # --- locks ---------------------------------------------------------------------------------

    async def _lock_role(self, conn: psycopg.AsyncConnection[Any], role: str) -> None:
        """Serialise grantflow's changes to one role, across workers, while `conn` lives.

        Two grants of one request (its items run in parallel) would both CREATE or ALTER the role, and a
        revoke must not interleave with a grant of the same role. Different roles go in parallel.
        Advisory locks are per database: every holder takes them in the admin DSN's database.
        """
        try:
            await conn.execute("SET lock_timeout = '30s'")
            await conn.execute(sql.SQL("SELECT pg_advisory_lock({})").format(lock_key(f"grantflow:role:{role}")))
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
        key = lock_key("grantflow:acl")
        try:
            await admin.execute(sql.SQL("SELECT pg_advisory_lock({})").format(key))
        except psycopg.Error as exc:
            raise self._db_error(exc, f"waiting for other privilege changes (role {role})") from None
        try:
            yield
        finally:
            with contextlib.suppress(psycopg.Error):
                await admin.execute(sql.SQL("SELECT pg_advisory_unlock({})").format(key))
