"""The `mysql` integration against a real MariaDB server (tests/mariadb.py): privileges, idempotency,
expiry on the target, revocation that kills open connections, reconcile listing, secrets kept out."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql
import pytest

from activities.integrations.base import GrantContext, IntegrationError
from activities.integrations.mysql import MysqlIntegrationDriver, account_name, is_grantflow_account
from grantflow.domain.config import MysqlIntegration
from grantflow.domain.models import GrantItem
from tests.conftest import MYSQL_DSN_ENV
from tests.mariadb import MariaDbServer

_ids = itertools.count(1)
SEED = b"s" * 32


def make_driver(**overrides: Any) -> MysqlIntegrationDriver:
    cfg: dict[str, Any] = {"id": "shopdb", "type": "mysql", "dsn_env": MYSQL_DSN_ENV, **overrides}
    return MysqlIntegrationDriver(MysqlIntegration.model_validate(cfg))


@pytest.fixture()
def driver(mariadb: MariaDbServer) -> MysqlIntegrationDriver:
    return make_driver()


def ctx(
    resource: str,
    permission: str = "read",
    resource_type: str = "database",
    *,
    grantee: str = "alice@example.com",
    request_id: str | None = None,
    expires_in: timedelta = timedelta(hours=1),
    seed: bytes | None = SEED,
) -> GrantContext:
    return GrantContext(
        request_id=request_id or f"my{next(_ids):08d}",
        requester=grantee,
        grantee=grantee,
        item=GrantItem(integration="shopdb", resource_type=resource_type, resource=resource, permission=permission),
        expires_at=datetime.now(UTC) + expires_in,
        secret_seed=seed,
    )


def login(server: MariaDbServer, details: dict[str, Any]) -> pymysql.connections.Connection[Any]:
    assert details["port"] == server.port
    return server.connect(details["user"], details["password"], details["database"])


def run(conn: pymysql.connections.Connection[Any], statement: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(statement)
        return list(cur.fetchall())


def password_lifetime(server: MariaDbServer, user: str) -> Any:
    with server.root() as conn, conn.cursor() as cur:
        cur.execute("SELECT JSON_VALUE(Priv, '$.password_lifetime') FROM mysql.global_priv WHERE User = %s", (user,))
        row = cur.fetchone()
        return None if row is None else row[0]


# --- names -------------------------------------------------------------------------------------------


def test_account_names_fit_mysql_and_only_grantflow_shapes_count() -> None:
    name = account_name("Very.Long-Name+tag@example.com", "abcdefgh12")
    assert name.startswith("gf_very_long_name_tag") and name.endswith("_abcdefgh12") and len(name) <= 32
    assert is_grantflow_account(name)
    for foreign in ("gf_legacy", "app", "root", "gf_x_ABCDEFGH12", "gfx_alice_abcdefgh12", "gf_a'b_abcdefgh12"):
        assert not is_grantflow_account(foreign), foreign


# --- grant -------------------------------------------------------------------------------------------


async def test_read_on_a_database_selects_but_cannot_insert(
    mariadb: MariaDbServer, driver: MysqlIntegrationDriver
) -> None:
    c = ctx("shop")
    details = await driver.grant(c)
    try:
        assert details["user"] == account_name("alice@example.com", c.request_id)
        assert details["mysql"] == f"mysql -h 127.0.0.1 -P {mariadb.port} -u {details['user']} -p shop"
        with login(mariadb, details) as conn:
            assert run(conn, "SELECT count(*) FROM customers")[0][0] == 2
            assert run(conn, "SELECT count(*) FROM orders")[0][0] == 2
            with pytest.raises(pymysql.err.OperationalError) as denied:
                run(conn, "INSERT INTO customers (name) VALUES ('eve')")
            assert denied.value.args[0] == 1142  # INSERT command denied
            with pytest.raises(pymysql.err.OperationalError):
                run(conn, "SELECT * FROM inventory.items")
    finally:
        await driver.revoke(c)


async def test_table_grant_covers_that_table_only(mariadb: MariaDbServer, driver: MysqlIntegrationDriver) -> None:
    c = ctx("shop.customers", "write", "table")
    details = await driver.grant(c)
    try:
        assert details["table"] == "customers"
        with login(mariadb, details) as conn:
            run(conn, "INSERT INTO customers (name) VALUES ('table-writer')")
            run(conn, "DELETE FROM customers WHERE name = 'table-writer'")
            with pytest.raises(pymysql.err.OperationalError):
                run(conn, "SELECT * FROM orders")
    finally:
        await driver.revoke(c)


async def test_a_database_name_with_underscore_is_not_a_wildcard(mariadb: MariaDbServer) -> None:
    """In `GRANT ... ON db.*` `_` matches any character: unescaped, a grant on `ab_c` also opens `abXc`."""
    with mariadb.root() as conn:
        for statement in (
            "CREATE DATABASE IF NOT EXISTS ab_c",
            "CREATE DATABASE IF NOT EXISTS abXc",
            "CREATE TABLE IF NOT EXISTS abXc.secret (v INT)",
            # An admin whose own grant is a pattern (as many are): it may hand out `ab_c` and `abXc` alike.
            "GRANT ALL PRIVILEGES ON `ab_c`.* TO grantflow_admin@'%' WITH GRANT OPTION",
        ):
            run(conn, statement)
    driver = make_driver()
    c = ctx("ab_c")
    details = await driver.grant(c)
    try:
        with login(mariadb, details) as conn:
            with pytest.raises(pymysql.err.OperationalError):
                run(conn, "SELECT * FROM abXc.secret")
            assert ("ab_c",) in run(conn, "SHOW DATABASES")
    finally:
        await driver.revoke(c)


async def test_grant_twice_and_two_items_leave_one_account_with_one_working_password(
    mariadb: MariaDbServer, driver: MysqlIntegrationDriver
) -> None:
    rid = f"tw{next(_ids):08d}"
    first = ctx("shop.customers", "read", "table", request_id=rid)
    second = ctx("shop.orders", "read", "table", request_id=rid)
    # The two items of a request run in parallel, and a retry repeats one of them.
    shown = await asyncio.gather(driver.grant(first), driver.grant(second), driver.grant(first))
    try:
        assert len({d["password"] for d in shown}) == 1 and len({d["user"] for d in shown}) == 1
        assert mariadb.accounts(shown[0]["user"]) == {shown[0]["user"]}
        for details in shown:
            with login(mariadb, details) as conn:
                run(conn, "SELECT * FROM customers")
                run(conn, "SELECT * FROM orders")
    finally:
        await driver.revoke(first)


async def test_expiry_is_set_on_the_account_and_moved_by_extend(
    mariadb: MariaDbServer, driver: MysqlIntegrationDriver
) -> None:
    c = ctx("shop", expires_in=timedelta(hours=30))
    details = await driver.grant(c)
    try:
        assert password_lifetime(mariadb, details["user"]) == "2"  # 30 h: two whole days, not one
        later = c.model_copy(update={"expires_at": datetime.now(UTC) + timedelta(days=3, hours=1)})
        await driver.extend(later)
        assert password_lifetime(mariadb, details["user"]) == "4"
        with login(mariadb, details) as conn:  # the password is unchanged by extend
            run(conn, "SELECT 1 FROM customers")
    finally:
        await driver.revoke(c)


async def test_an_expired_password_leaves_only_the_password_sandbox(
    mariadb: MariaDbServer, driver: MysqlIntegrationDriver
) -> None:
    """What the target enforces on its own once the interval has passed: a login lands in MariaDB's
    sandbox mode (or is refused, with disconnect_on_expired_password), where no query runs. The grantee
    could set a new password there: the docs say so; the revoke is what ends access."""
    c = ctx("shop")
    details = await driver.grant(c)
    try:
        with mariadb.root() as conn:
            run(conn, f"ALTER USER '{details['user']}'@'%' PASSWORD EXPIRE")
        with login(mariadb, details) as conn, pytest.raises(pymysql.err.OperationalError) as refused:
            run(conn, "SELECT count(*) FROM customers")
        assert refused.value.args[0] == 1820  # You must SET PASSWORD before executing this statement
    finally:
        await driver.revoke(c)


async def test_extend_of_a_missing_account_is_a_clear_permanent_error(driver: MysqlIntegrationDriver) -> None:
    with pytest.raises(IntegrationError) as err:
        await driver.extend(ctx("shop"))
    assert "does not exist" in str(err.value) and not err.value.retryable


# --- revoke ------------------------------------------------------------------------------------------


async def test_revoke_kills_an_open_connection_and_drops_the_account(
    mariadb: MariaDbServer, driver: MysqlIntegrationDriver
) -> None:
    c = ctx("shop")
    details = await driver.grant(c)
    conn = login(mariadb, details)
    assert run(conn, "SELECT count(*) FROM customers")[0][0] == 2
    await driver.revoke(c)
    with pytest.raises((pymysql.err.OperationalError, pymysql.err.InterfaceError)):
        run(conn, "SELECT count(*) FROM customers")
    conn.close()
    with pytest.raises(pymysql.err.OperationalError):
        login(mariadb, details)
    assert details["user"] not in mariadb.accounts()
    await driver.revoke(c)  # again: already gone is success
    await driver.revoke(ctx("shop"))  # never granted: success


async def test_revoke_drops_what_runs_as_the_account(mariadb: MariaDbServer, driver: MysqlIntegrationDriver) -> None:
    """An `admin` grantee's trigger would break every write to the table once its definer is gone; its
    views and routines would linger. Revoke drops them with the account (as PostgreSQL's DROP OWNED)."""
    c = ctx("shop", "admin")
    details = await driver.grant(c)
    with login(mariadb, details) as conn:
        run(conn, "CREATE TABLE audit_sink (n INT)")
        run(conn, "CREATE TRIGGER gf_spy AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit_sink VALUES (NEW.id)")
        run(conn, "CREATE VIEW gf_view AS SELECT id FROM orders")
        run(conn, "CREATE PROCEDURE gf_proc() SELECT 1")
    await driver.revoke(c)
    with mariadb.root() as conn:
        run(conn, "INSERT INTO shop.orders (customer_id, total) VALUES (1, 99)")  # no orphaned trigger fires
        run(conn, "DELETE FROM shop.orders WHERE total = 99")
        assert run(conn, "SELECT count(*) FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = 'gf_spy'")[0][0] == 0
        assert run(conn, "SELECT count(*) FROM information_schema.VIEWS WHERE TABLE_NAME = 'gf_view'")[0][0] == 0
        assert run(conn, "SELECT count(*) FROM information_schema.ROUTINES WHERE ROUTINE_NAME = 'gf_proc'")[0][0] == 0
        run(conn, "DROP TABLE shop.audit_sink")  # tables have no owner in MySQL: they stay


async def test_revoke_drops_every_host_of_the_account_and_refuses_foreign_names(
    mariadb: MariaDbServer, driver: MysqlIntegrationDriver
) -> None:
    c = ctx("shop")
    details = await driver.grant(c)
    user = details["user"]
    with mariadb.root() as conn:
        run(conn, f"CREATE USER '{user}'@'10.%' IDENTIFIED BY 'x'")  # an older account_host
    await driver.drop_role(user)
    assert user not in mariadb.accounts()
    for foreign in ("gf_legacy", "app", "grantflow_admin", "root"):
        with pytest.raises(IntegrationError) as err:
            await driver.drop_role(foreign)
        assert not err.value.retryable
    assert {"gf_legacy"} <= mariadb.accounts() and {"app", "grantflow_admin"} <= mariadb.accounts("%")


async def test_list_grantflow_roles_sees_gf_accounts_only(
    mariadb: MariaDbServer, driver: MysqlIntegrationDriver
) -> None:
    c = ctx("shop")
    details = await driver.grant(c)
    try:
        listed = await driver.list_grantflow_roles()
        assert details["user"] in listed and "gf_legacy" in listed
        assert not [u for u in listed if not u.startswith("gf_")]
    finally:
        await driver.revoke(c)


# --- discovery and refusals --------------------------------------------------------------------------


async def test_discovery_lists_databases_and_tables_without_system_ones(mariadb: MariaDbServer) -> None:
    driver = make_driver(exclude=["inventory"])
    assert "shop" in await driver.list_resources("database")
    assert "inventory" not in await driver.list_resources("database")
    tables = await driver.list_resources("table")
    assert {"shop.customers", "shop.orders"} <= set(tables)
    assert not [t for t in tables if t.split(".")[0] in ("mysql", "sys", "inventory")]
    only = make_driver(include=["shop.c*"])
    assert await only.list_resources("table") == ["shop.customers"]


@pytest.mark.parametrize(
    "resource_type,resource,permission,reason",
    [
        ("database", "nosuchdb", "read", "unknown database"),
        ("table", "shop.nope", "read", "unknown table"),
        ("table", "shop", "read", "must be named DATABASE.TABLE"),
        ("database", "mysql", "read", "system database"),
        ("database", "shop`; DROP DATABASE shop; --", "read", "unknown database"),
        ("database", "shop", "superpowers", "unknown permission"),
    ],
)
async def test_bad_input_fails_permanently_and_leaves_nothing(
    mariadb: MariaDbServer,
    driver: MysqlIntegrationDriver,
    resource_type: str,
    resource: str,
    permission: str,
    reason: str,
) -> None:
    before = mariadb.accounts()
    with pytest.raises(IntegrationError) as err:
        await driver.grant(ctx(resource, permission, resource_type))
    assert reason in str(err.value) and not err.value.retryable
    assert mariadb.accounts() == before
    with mariadb.root() as conn:
        assert run(conn, "SELECT count(*) FROM shop.customers")[0][0] >= 2


async def test_admin_password_never_in_messages(mariadb: MariaDbServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MYSQL_DSN_ENV, mariadb.admin_dsn.replace(mariadb.admin_password, mariadb.admin_password + "x"))
    with pytest.raises(IntegrationError) as err:
        await make_driver().grant(ctx("shop"))
    assert err.value.retryable and "Access denied" in str(err.value)
    assert mariadb.admin_password not in str(err.value)
    monkeypatch.setenv(MYSQL_DSN_ENV, "")
    with pytest.raises(IntegrationError) as unset:
        await make_driver().grant(ctx("shop"))
    assert MYSQL_DSN_ENV in str(unset.value) and not unset.value.retryable


# --- the password never reaches the server's logs, history or the audit trail ----------------------------


async def test_password_is_not_in_the_server_general_log(
    mariadb: MariaDbServer, driver: MysqlIntegrationDriver
) -> None:
    c = ctx("shop", seed=b"g" * 32)
    details = await driver.grant(c)
    await driver.grant(c)
    await driver.extend(c)
    try:
        with login(mariadb, details) as conn:
            run(conn, "SELECT 1 FROM customers")
        logged = mariadb.general_log()
        assert f"CREATE USER IF NOT EXISTS '{details['user']}'" in logged
        assert "IDENTIFIED BY PASSWORD '*" in logged
        assert details["password"] not in logged
    finally:
        await driver.revoke(c)


async def test_grant_activity_seals_the_password_and_every_item_agrees(mariadb: MariaDbServer, tmp_path: Path) -> None:
    """The activity as the worker runs it: what goes to history has no password; the vault's copy works."""
    from temporalio.testing import ActivityEnvironment

    from activities.grants import GrantActivities
    from grantflow.domain.config import ConfigSource
    from grantflow.domain.ops import ItemOp
    from grantflow.storage.store import Store
    from grantflow.storage.vault import SecretVault

    config = tmp_path / "grantflow.yml"
    config.write_text(f"integrations:\n  - {{id: shopdb, type: mysql, dsn_env: {MYSQL_DSN_ENV}}}\n")
    store = Store(f"sqlite:///{tmp_path}/gf.db")
    store.create_all()
    vault = SecretVault(store, "t1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    acts = GrantActivities(ConfigSource(config), tmp_path, vault)
    ops = [
        ItemOp(
            request_id="mysqlseal1",
            requester="alice@example.com",
            grantee="alice@example.com",
            item=GrantItem(integration="shopdb", resource_type="table", resource=f"shop.{t}", permission="read"),
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
        for t in ("customers", "orders")
    ]
    env = ActivityEnvironment()
    try:
        returned = [await env.run(acts.grant_item, op) for op in (*ops, ops[0])]
        shown = vault.get("mysqlseal1")
        assert len(shown) == 2
        assert len({d["password"] for d in shown.values()}) == 1
        for r in returned:  # what the workflow records
            assert "password" not in r and "dsn" not in r and "secret_ref" in r
        for details in shown.values():
            with mariadb.connect(details["user"], details["password"], "shop") as conn:
                run(conn, "SELECT 1 FROM customers")
                run(conn, "SELECT 1 FROM orders")
        password = next(iter(shown.values()))["password"]
        assert not [r for r in returned if password in json.dumps(r)]
    finally:
        for op in ops:
            await env.run(acts.revoke_item, op)
    assert account_name("alice@example.com", "mysqlseal1") not in mariadb.accounts()
