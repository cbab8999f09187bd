"""The PostgreSQL integration against a real server: logins, privileges, expiry, revocation, bad input."""

from __future__ import annotations

import asyncio
import itertools
import os
import stat
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from activities.integrations.base import GrantContext, IntegrationError
from activities.integrations.postgresql import PostgresIntegrationDriver, parse_privileges, role_name
from grantflow.dev.demo import ensure_demo_schema
from grantflow.dev.pgserver import PgServer, free_port
from grantflow.domain.config import PostgresIntegration
from grantflow.domain.models import GrantItem

DSN_ENV = "GF_TEST_PG_DSN"  # set by the pg_server fixture in conftest.py

pytestmark = pytest.mark.usefixtures("pg_server")

_ids = itertools.count(1)


def make_driver(**overrides: Any) -> PostgresIntegrationDriver:
    cfg: dict[str, Any] = {"id": "demo-postgres", "type": "postgresql", "dsn_env": DSN_ENV, **overrides}
    return PostgresIntegrationDriver(PostgresIntegration.model_validate(cfg))


def ctx(
    resource: str,
    permission: str = "read",
    resource_type: str = "table",
    *,
    grantee: str = "alice@example.com",
    request_id: str | None = None,
    expires_in: timedelta = timedelta(hours=1),
) -> GrantContext:
    return GrantContext(
        request_id=request_id or f"req{next(_ids):04d}",
        requester=grantee,
        grantee=grantee,
        item=GrantItem(
            integration="demo-postgres", resource_type=resource_type, resource=resource, permission=permission
        ),
        expires_at=datetime.now(UTC) + expires_in,
    )


async def login(details: dict[str, Any]) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(
        host=details["host"],
        port=details["port"],
        dbname=details["database"],
        user=details["user"],
        password=details["password"],
        autocommit=True,
        connect_timeout=5,
    )


async def admin(database: str = "orders") -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(
        psycopg.conninfo.make_conninfo(os.environ[DSN_ENV], dbname=database), autocommit=True
    )


async def role_exists(role: str) -> bool:
    async with await admin("postgres") as conn:
        cur = await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        return await cur.fetchone() is not None


async def gf_roles() -> set[str]:
    async with await admin("postgres") as conn:
        cur = await conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'gf\\_%'")
        return {r[0] for r in await cur.fetchall()}


@pytest.fixture()
async def driver() -> AsyncIterator[PostgresIntegrationDriver]:
    d = make_driver()
    before = await gf_roles()
    yield d
    for role in await gf_roles() - before:
        await d.drop_role(role)


# --- pure functions ---------------------------------------------------------------------------


def test_role_name_is_sanitised_and_bounded() -> None:
    assert role_name("Alice.Smith+ops@Example.com", "Req-42") == "gf_alice_smith_ops_req_42"
    long_local = role_name("a" * 200 + "@example.com", "0123456789abcdef0123456789abcdef")
    assert len(long_local.encode()) <= 63
    assert long_local.endswith("_0123456789abcdef0123456789abcdef")
    long_id = role_name("bob@example.com", "x" * 100)
    assert len(long_id.encode()) <= 63
    assert long_id != role_name("bob@example.com", "x" * 101)
    assert role_name("@", "") == "gf_user_request"


def test_privileges_resolve_names_and_kinds() -> None:
    perms = {"read": ["CONNECT", "USAGE", "SELECT"], "audit": ["read", "table:TRIGGER", "sequence:SELECT"]}
    p = parse_privileges(["audit", " temp "], perms)
    assert p.database == {"CONNECT", "TEMPORARY"}
    assert p.schema == {"USAGE"}
    assert p.table == {"SELECT", "TRIGGER"}
    assert p.sequence == {"SELECT"}
    with pytest.raises(IntegrationError, match="unknown privilege"):
        parse_privileges(["SELECT; DROP TABLE x"], perms)
    with pytest.raises(IntegrationError, match="not a schema privilege"):
        parse_privileges(["schema:SELECT"], perms)
    with pytest.raises(IntegrationError, match="refers to itself"):
        parse_privileges(["loop"], {"loop": ["loop"]})


# --- grants -----------------------------------------------------------------------------------


async def test_read_grant_allows_select_not_insert(driver: PostgresIntegrationDriver) -> None:
    c = ctx("orders.customers", "read")
    details = await driver.grant(c)
    assert details["user"] == role_name(c.grantee, c.request_id)
    assert details["database"] == "orders"
    assert details["psql"] == (
        f'psql "postgresql://{details["user"]}:{details["password"]}@{details["host"]}:{details["port"]}/orders"'
    )
    assert details["expires_at"] == c.expires_at.isoformat()
    async with await login(details) as conn:
        rows = await (await conn.execute("SELECT count(*) FROM public.customers")).fetchone()
        assert rows is not None and rows[0] >= 3
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute("INSERT INTO customers (name, email) VALUES ('x', 'x@example.com')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute("SELECT * FROM public.orders")


async def test_write_grant_allows_insert_with_serial(driver: PostgresIntegrationDriver) -> None:
    details = await driver.grant(ctx("orders.public.customers", "write"))
    async with await login(details) as conn:
        await conn.execute("INSERT INTO customers (name, email) VALUES ('Write', 'write-test@example.com')")
        await conn.execute("DELETE FROM customers WHERE email = 'write-test@example.com'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute("CREATE TABLE mine (id int)")


async def test_database_grant_covers_every_schema(driver: PostgresIntegrationDriver) -> None:
    details = await driver.grant(ctx("orders", "read", "database"))
    async with await login(details) as conn:
        for table in ("public.orders", "public.customers", "analytics.events", "analytics.secrets"):
            await conn.execute(f"SELECT * FROM {table}")


async def test_exclude_keeps_tables_out_of_database_grants() -> None:
    d = make_driver(exclude=["*.analytics.secrets"])
    details = await d.grant(ctx("orders", "read", "database"))
    try:
        async with await login(details) as conn:
            await conn.execute("SELECT * FROM analytics.events")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute("SELECT * FROM analytics.secrets")
        with pytest.raises(IntegrationError, match="not offered") as err:
            await d.grant(ctx("orders.analytics.secrets", "read"))
        assert not err.value.retryable
    finally:
        await d.drop_role(details["user"])


async def test_schema_grant_is_limited_to_the_schema(driver: PostgresIntegrationDriver) -> None:
    details = await driver.grant(ctx("orders.analytics", "write", "schema"))
    async with await login(details) as conn:
        await conn.execute("INSERT INTO analytics.events (kind) VALUES ('schema-grant')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute("SELECT * FROM public.customers")


async def test_grant_twice_leaves_one_role_with_the_new_password(driver: PostgresIntegrationDriver) -> None:
    c = ctx("orders.customers", "read")
    first = await driver.grant(c)
    second = await driver.grant(c)
    assert first["user"] == second["user"]
    assert first["password"] != second["password"]
    assert [r for r in await gf_roles() if r == first["user"]] == [first["user"]]
    async with await login(second) as conn:
        await conn.execute("SELECT 1 FROM customers")
    with pytest.raises(psycopg.OperationalError):
        await login(first)


async def test_valid_until_in_the_past_refuses_login(driver: PostgresIntegrationDriver) -> None:
    details = await driver.grant(ctx("orders.customers", "read", expires_in=-timedelta(minutes=1)))
    assert await role_exists(details["user"])
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        await login(details)


async def test_extend_moves_expiry_and_keeps_open_sessions(driver: PostgresIntegrationDriver) -> None:
    c = ctx("orders.customers", "read", expires_in=timedelta(minutes=10))
    details = await driver.grant(c)
    async with await login(details) as session:
        later = c.model_copy(update={"expires_at": c.expires_at + timedelta(hours=2)})
        await driver.extend(later)
        await session.execute("SELECT count(*) FROM customers")
        async with await admin("postgres") as conn:
            row = await (
                await conn.execute("SELECT rolvaliduntil FROM pg_roles WHERE rolname = %s", (details["user"],))
            ).fetchone()
        assert row is not None and row[0] == later.expires_at
    async with await login(details) as again:  # the password is unchanged
        await again.execute("SELECT 1")


async def test_extend_of_a_missing_role_is_a_clear_error(driver: PostgresIntegrationDriver) -> None:
    with pytest.raises(IntegrationError, match="does not exist") as err:
        await driver.extend(ctx("orders.customers"))
    assert not err.value.retryable


# --- revoke -----------------------------------------------------------------------------------


async def test_revoke_ends_sessions_drops_objects_and_role(driver: PostgresIntegrationDriver) -> None:
    bystander = await driver.grant(ctx("orders.customers", "read", grantee="carol@example.com"))
    c = ctx("orders.analytics", "admin", "schema", grantee="dave@example.com")
    details = await driver.grant(c)
    session = await login(details)
    await session.execute("CREATE TABLE analytics.dave_scratch (id int)")
    await session.execute("INSERT INTO analytics.dave_scratch VALUES (1)")

    await driver.revoke(c)

    with pytest.raises(psycopg.OperationalError):
        await session.execute("SELECT 1")
    await session.close()
    with pytest.raises(psycopg.OperationalError):
        await login(details)
    assert not await role_exists(details["user"])
    async with await admin() as conn:
        row = await (
            await conn.execute(
                "SELECT tableowner FROM pg_tables WHERE schemaname = 'analytics' AND tablename = 'dave_scratch'"
            )
        ).fetchone()
        assert row is None  # dropped with the role, not handed to the admin
    async with await login(bystander) as conn:
        await conn.execute("SELECT 1 FROM customers")

    await driver.revoke(c)  # already gone: still fine
    assert await role_exists(bystander["user"])


async def test_revoke_without_grant_succeeds(driver: PostgresIntegrationDriver) -> None:
    await driver.revoke(ctx("orders.customers", request_id="never-granted"))


async def test_list_grantflow_roles(driver: PostgresIntegrationDriver) -> None:
    details = await driver.grant(ctx("orders.customers"))
    roles = await driver.list_grantflow_roles()
    assert details["user"] in roles
    assert all(r.startswith("gf_") for r in roles)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "resource", "message"),
    [
        ("database", "nope", "unknown database 'nope'"),
        ("database", "postgres", "unknown database 'postgres'"),
        ("database", "template1", "unknown database 'template1'"),
        ("table", "orders.public.nope", "unknown table 'orders.public.nope'"),
        ("table", "nope.customers", "unknown database 'nope'"),
        ("schema", "orders.nope", "unknown schema 'orders.nope'"),
        ("schema", "orders.pg_catalog", "unknown schema"),
        ("table", "orders.pg_catalog.pg_authid", "unknown table"),
        ("database", 'orders"; DROP TABLE x;--', "unknown database"),
        ("table", 'orders"; DROP TABLE customers;--', "must be named"),
        ("table", 'orders.public.customers"; DROP TABLE customers;--', "unknown table"),
        ("table", "orders..customers", "must be named"),
        ("schema", "orders", "must be named"),
    ],
)
async def test_unknown_or_malformed_resources_fail_cleanly(
    driver: PostgresIntegrationDriver, resource_type: str, resource: str, message: str
) -> None:
    before = await gf_roles()
    with pytest.raises(IntegrationError, match=message) as err:
        await driver.grant(ctx(resource, "read", resource_type))
    assert not err.value.retryable
    assert await gf_roles() == before
    async with await admin() as conn:
        row = await (await conn.execute("SELECT count(*) FROM customers")).fetchone()
        assert row is not None and row[0] >= 3


async def test_permission_mapping_to_nothing_is_refused() -> None:
    d = make_driver(permissions={"nothing": [], "blank": ""})
    for name in ("nothing", "blank"):
        with pytest.raises(IntegrationError, match="maps to no privileges") as err:
            await d.grant(ctx("orders.customers", name))
        assert not err.value.retryable
    with pytest.raises(IntegrationError, match="unknown permission 'owner'"):
        await d.grant(ctx("orders.customers", "owner"))


async def test_custom_permission_from_config() -> None:
    d = make_driver(permissions={"append": "SELECT, INSERT, sequence:USAGE"})
    details = await d.grant(ctx("orders.customers", "append"))
    try:
        async with await login(details) as conn:
            await conn.execute("INSERT INTO customers (name, email) VALUES ('Append', 'append@example.com')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute("DELETE FROM customers WHERE email = 'append@example.com'")
    finally:
        await d.drop_role(details["user"])
        async with await admin() as conn:
            await conn.execute("DELETE FROM customers WHERE email = 'append@example.com'")


async def test_resource_type_not_configured_is_refused() -> None:
    d = make_driver(resource_types=["database"])
    with pytest.raises(IntegrationError, match="not offered"):
        await d.grant(ctx("orders.customers"))


async def test_dsn_env_unset_is_a_clear_error() -> None:
    d = make_driver(dsn_env="GF_TEST_PG_DSN_UNSET")
    os.environ.pop("GF_TEST_PG_DSN_UNSET", None)
    with pytest.raises(IntegrationError, match="GF_TEST_PG_DSN_UNSET is not set"):
        await d.grant(ctx("orders.customers"))
    with pytest.raises(IntegrationError, match="GF_TEST_PG_DSN_UNSET is not set"):
        await d.list_resources("database")


async def test_unreachable_server_is_retryable_and_hides_the_password(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = f"postgresql://postgres:{pg_server.password}@127.0.0.1:{free_port()}/postgres"
    monkeypatch.setenv("GF_TEST_PG_DOWN", dsn)
    d = make_driver(dsn_env="GF_TEST_PG_DOWN")
    with pytest.raises(IntegrationError, match="cannot connect to PostgreSQL") as err:
        await d.grant(ctx("orders.customers"))
    assert err.value.retryable
    assert pg_server.password not in str(err.value)
    with pytest.raises(IntegrationError) as err2:
        await d.revoke(ctx("orders.customers"))
    assert err2.value.retryable


async def test_wrong_admin_password_does_not_leak(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = f"postgresql://postgres:not-the-password@127.0.0.1:{pg_server.port}/postgres"
    monkeypatch.setenv("GF_TEST_PG_BAD", dsn)
    d = make_driver(dsn_env="GF_TEST_PG_BAD")
    with pytest.raises(IntegrationError, match="password authentication failed") as err:
        await d.list_resources("database")
    assert "not-the-password" not in str(err.value)


# --- discovery --------------------------------------------------------------------------------


async def test_list_resources_discovers_the_demo(driver: PostgresIntegrationDriver) -> None:
    assert await driver.list_resources("database") == ["inventory", "orders"]
    schemas = await driver.list_resources("schema")
    assert "orders.public" in schemas and "orders.analytics" in schemas
    assert not any(".pg_" in s or "information_schema" in s for s in schemas)
    tables = await driver.list_resources("table")
    assert {"orders.public.customers", "orders.public.orders", "orders.analytics.events"} <= set(tables)


async def test_list_resources_honours_include_and_exclude() -> None:
    d = make_driver(include=["orders*"], exclude=["*.analytics*"])
    assert await d.list_resources("database") == ["orders"]
    assert await d.list_resources("schema") == ["orders.public"]
    assert await d.list_resources("table") == ["orders.public.customers", "orders.public.orders"]
    with pytest.raises(IntegrationError, match="not offered"):
        await make_driver(resource_types=["database"]).list_resources("table")


async def test_concurrent_grants_for_one_request_share_one_working_password(driver: PostgresIntegrationDriver) -> None:
    seed = b"s" * 32
    a = ctx("orders.customers", "read", request_id="concurrent1").model_copy(update={"secret_seed": seed})
    b = ctx("orders.orders", "read", request_id="concurrent1").model_copy(update={"secret_seed": seed})
    details = await asyncio.gather(driver.grant(a), driver.grant(b))
    assert details[0]["user"] == details[1]["user"]
    assert [r for r in await gf_roles() if r == details[0]["user"]] == [details[0]["user"]]
    assert details[0]["password"] == details[1]["password"]
    for d in details:  # every password handed out logs in, not just the last one set
        async with await login(d) as conn:
            await conn.execute("SELECT 1 FROM customers")
            await conn.execute("SELECT 1 FROM orders")


async def test_concurrent_grants_and_revokes_on_one_table(driver: PostgresIntegrationDriver) -> None:
    contexts = [ctx("orders.customers", "read", grantee=f"user{i}@example.com") for i in range(6)]
    await asyncio.gather(*(driver.grant(c) for c in contexts))
    await asyncio.gather(*(driver.revoke(c) for c in contexts[:3]), *(driver.grant(c) for c in contexts[3:]))
    remaining = await gf_roles()
    assert {role_name(c.grantee, c.request_id) for c in contexts[3:]} <= remaining
    assert not {role_name(c.grantee, c.request_id) for c in contexts[:3]} & remaining


# --- the embedded server itself ---------------------------------------------------------------


def test_pgserver_reuses_its_data_dir_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "pg"
    first = PgServer(data, durable=False).start()
    try:
        ensure_demo_schema(first.admin_dsn)
        ensure_demo_schema(first.admin_dsn)
        password = first.password
        with psycopg.connect(first.dsn("orders")) as conn:
            row = conn.execute("SELECT count(*) FROM customers").fetchone()
            assert row == (3,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"postgresql://postgres:wrong@127.0.0.1:{first.port}/postgres")
        # A second handle on the same directory (a crashed dev run) takes over the running server.
        with PgServer(data, durable=False) as second:
            assert second.password == password
            with psycopg.connect(second.dsn("orders")) as conn:
                assert conn.execute("SELECT count(*) FROM orders").fetchone() == (4,)
        assert not (data / "postmaster.pid").exists()
    finally:
        first.stop()
    assert not first.running
    assert stat.S_IMODE((data / "grantflow-admin.pw").stat().st_mode) == 0o600


# --- security: revocation hands nothing up (issue 10, point 1) ---------------------------------

MALLORY = "mallory_unprivileged"

_SUPERUSER_OWNED = """
SELECT 'class ' || c.oid::regclass::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolsuper
UNION ALL SELECT 'routine ' || p.oid::regprocedure::text FROM pg_proc p
  JOIN pg_roles r ON r.oid = p.proowner WHERE r.rolsuper
UNION ALL SELECT 'schema ' || n.nspname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE r.rolsuper
UNION ALL SELECT 'type ' || t.oid::regtype::text FROM pg_type t JOIN pg_roles r ON r.oid = t.typowner WHERE r.rolsuper
"""


async def superuser_owned(database: str = "orders") -> set[str]:
    async with await admin(database) as conn:
        return {r[0] for r in await (await conn.execute(_SUPERUSER_OWNED)).fetchall()}


@pytest.fixture()
async def mallory(pg_server: PgServer) -> AsyncIterator[str]:
    """Another ordinary login role of the target database, who would like to be superuser."""
    async with await admin("postgres") as conn:
        await conn.execute(f"DROP ROLE IF EXISTS {MALLORY}")
        await conn.execute(f"CREATE ROLE {MALLORY} LOGIN PASSWORD 'mallory-pw'")
        await conn.execute(f"GRANT CONNECT ON DATABASE orders TO {MALLORY}")
    yield f"postgresql://{MALLORY}:mallory-pw@127.0.0.1:{pg_server.port}/orders"
    async with await admin("orders") as conn:
        await conn.execute(f"DROP OWNED BY {MALLORY}")
    async with await admin("postgres") as conn:
        await conn.execute(f"DROP OWNED BY {MALLORY}")
        await conn.execute(f"DROP ROLE {MALLORY}")


async def plant(details: dict[str, Any]) -> None:
    """What a grantee with `admin` could leave behind to keep more than it was given."""
    async with await login(details) as conn:
        await conn.execute("CREATE TABLE public.loot (id int)")
        await conn.execute("CREATE VIEW public.loot_view AS SELECT * FROM public.loot")
        await conn.execute(
            "CREATE FUNCTION public.steal() RETURNS text LANGUAGE sql SECURITY DEFINER AS "
            "$$ SELECT string_agg(rolname || ':' || coalesce(rolpassword, ''), ',') FROM pg_authid $$"
        )
        await conn.execute("GRANT EXECUTE ON FUNCTION public.steal() TO PUBLIC")
        await conn.execute("GRANT SELECT ON public.loot, public.loot_view TO PUBLIC")
        # A trojan: its function would run as whoever writes to customers next, e.g. the admin.
        await conn.execute(
            "CREATE FUNCTION public.trojan() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
        )
        await conn.execute(
            "CREATE TRIGGER trojan BEFORE INSERT ON public.customers FOR EACH ROW EXECUTE FUNCTION public.trojan()"
        )


async def triggers_on_customers() -> list[str]:
    async with await admin() as conn:
        cur = await conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.customers'::regclass AND NOT tgisinternal"
        )
        return [r[0] for r in await cur.fetchall()]


async def test_revoke_drops_what_the_grantee_created(driver: PostgresIntegrationDriver, mallory: str) -> None:
    before = await superuser_owned()
    c = ctx("orders.public", "admin", "schema", grantee="eve@example.com")
    details = await driver.grant(c)
    await plant(details)
    async with await psycopg.AsyncConnection.connect(mallory, autocommit=True) as conn:
        # While granted it runs as its owner, the grantee, who may not read pg_authid.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="pg_authid"):
            await conn.execute("SELECT public.steal()")

    await driver.revoke(c)

    async with await psycopg.AsyncConnection.connect(mallory, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            await conn.execute("SELECT public.steal()")
        with pytest.raises(psycopg.errors.UndefinedTable):
            await conn.execute("SELECT * FROM public.loot_view")
    assert await triggers_on_customers() == []
    assert await superuser_owned() == before


async def test_keep_objects_hands_them_to_a_powerless_role_defused(mallory: str) -> None:
    d = make_driver(keep_objects=True)
    before = await superuser_owned()
    c = ctx("orders.public", "admin", "schema", grantee="eve@example.com")
    details = await d.grant(c)
    try:
        await plant(details)
        await d.revoke(c)

        assert not await role_exists(details["user"])
        async with await admin() as conn:
            cur = await conn.execute(
                "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
                "WHERE c.relname IN ('loot', 'loot_view') ORDER BY 1"
            )
            assert await cur.fetchall() == [("loot", "grantflow_orphans"), ("loot_view", "grantflow_orphans")]
            cur = await conn.execute(
                "SELECT proname, pg_get_userbyid(proowner), prosecdef FROM pg_proc "
                "WHERE proname IN ('steal', 'trojan') ORDER BY 1"
            )
            assert await cur.fetchall() == [
                ("steal", "grantflow_orphans", False),
                ("trojan", "grantflow_orphans", False),
            ]
            cur = await conn.execute(
                "SELECT rolcanlogin, rolinherit, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
                "rolreplication, (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) "
                "FROM pg_roles r WHERE rolname = 'grantflow_orphans'"
            )
            assert await cur.fetchone() == (False, False, False, False, False, False, False, 0)
        async with await psycopg.AsyncConnection.connect(mallory, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute("SELECT public.steal()")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute("ALTER FUNCTION public.steal() SECURITY DEFINER")
        assert await triggers_on_customers() == []
        assert await superuser_owned() == before
    finally:
        async with await admin() as conn:
            await conn.execute("DROP OWNED BY grantflow_orphans CASCADE")
        await d.drop_role(details["user"])


# --- every credential shown works (point 2) ----------------------------------------------------


async def test_grant_twice_with_a_seed_keeps_one_working_password(driver: PostgresIntegrationDriver) -> None:
    c = ctx("orders.customers", "read").model_copy(update={"secret_seed": b"k" * 32})
    first = await driver.grant(c)
    second = await driver.grant(c)
    assert first["password"] == second["password"]
    async with await login(first) as conn:
        await conn.execute("SELECT 1 FROM customers")


async def test_grant_activity_items_and_retries_agree_on_the_password(tmp_path: Path) -> None:
    """The activity, as the worker runs it: two items of one request, then a retry of the first."""
    from temporalio.testing import ActivityEnvironment

    from activities.grants import GrantActivities
    from grantflow.domain.config import ConfigSource
    from grantflow.domain.ops import ItemOp
    from grantflow.storage.store import Store
    from grantflow.storage.vault import SecretVault

    config = tmp_path / "grantflow.yml"
    config.write_text(f"integrations:\n  - {{id: demo-postgres, type: postgresql, dsn_env: {DSN_ENV}}}\n")
    store = Store(f"sqlite:///{tmp_path}/gf.db")
    store.create_all()
    vault = SecretVault(store, "t1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    acts = GrantActivities(ConfigSource(config), tmp_path, vault)
    expires = datetime.now(UTC) + timedelta(hours=1)
    ops = [
        ItemOp(
            request_id="seedwire1",
            requester="alice@example.com",
            grantee="alice@example.com",
            item=GrantItem(
                integration="demo-postgres", resource_type="table", resource=f"orders.{t}", permission="read"
            ),
            expires_at=expires,
        )
        for t in ("customers", "orders")
    ]
    env = ActivityEnvironment()
    try:
        for op in (*ops, ops[0]):  # the last one: the worker died after granting and the activity retries
            await env.run(acts.grant_item, op)
        shown = vault.get("seedwire1")
        assert len(shown) == 2
        for details in shown.values():
            async with await psycopg.AsyncConnection.connect(
                host=details["host"],
                port=int(details["port"]),
                dbname=details["database"],
                user=details["user"],
                password=details["password"],
                autocommit=True,
            ) as conn:
                await conn.execute("SELECT 1 FROM customers")
                await conn.execute("SELECT 1 FROM orders")
    finally:
        for op in ops:
            await env.run(acts.revoke_item, op)
    assert not await role_exists(role_name("alice@example.com", "seedwire1"))


# --- the password never reaches the server log (point 4) -----------------------------------------


async def test_password_is_not_in_the_server_log(pg_server: PgServer, driver: PostgresIntegrationDriver) -> None:
    async with await admin("postgres") as conn:
        await conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        await conn.execute("SELECT pg_reload_conf()")
    try:
        start = pg_server.log_file.stat().st_size
        # The reload reaches the backends asynchronously: wait until a probe statement is logged, then until
        # what the grant sent is, instead of guessing a delay (a loaded machine took longer than 0.5 s).
        probe = f"gf-log-probe-{uuid.uuid4().hex}"
        await wait_logged(pg_server, start, [probe], lambda: admin_probe(probe))
        c = ctx("orders.customers", "read").model_copy(update={"secret_seed": b"l" * 32})
        details = await driver.grant(c)
        await driver.grant(c)  # the ALTER ROLE path too
        async with await login(details) as conn:
            await conn.execute("SELECT 1 FROM customers")
        logged = await wait_logged(
            pg_server, start, [f'CREATE ROLE "{details["user"]}"', f'ALTER ROLE "{details["user"]}"']
        )
        assert "SCRAM-SHA-256$4096:" in logged
        assert details["password"] not in logged
    finally:
        async with await admin("postgres") as conn:
            await conn.execute("ALTER SYSTEM RESET log_statement")
            await conn.execute("SELECT pg_reload_conf()")


async def admin_probe(text: str) -> None:
    async with await admin("postgres") as conn:
        await conn.execute(sql.SQL("SELECT {}").format(sql.Literal(text)))


async def wait_logged(
    pg_server: PgServer, start: int, wanted: list[str], probe: Callable[[], Awaitable[None]] | None = None
) -> str:
    """The server log since `start`, once every `wanted` text is in it (running `probe` until then)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        if probe is not None:
            await probe()
        with pg_server.log_file.open("rb") as f:
            f.seek(start)
            logged = f.read().decode("utf-8", "replace")
        if all(w in logged for w in wanted):
            return logged
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not in the server log after 30 s: {[w for w in wanted if w not in logged]}")
        await asyncio.sleep(0.2)


# --- the psql line connects, whatever the DSN's shape (point 5) ----------------------------------


def psql_url(details: dict[str, Any]) -> str:
    line: str = details["psql"]
    assert line.startswith('psql "') and line.endswith('"')
    return line[len('psql "') : -1]


async def test_psql_line_connects_over_tcp(driver: PostgresIntegrationDriver) -> None:
    details = await driver.grant(ctx("orders.customers"))
    async with await psycopg.AsyncConnection.connect(psql_url(details), autocommit=True) as conn:
        row = await (await conn.execute("SELECT current_user, count(*) FROM customers")).fetchone()
        assert row is not None and row[0] == details["user"]


async def test_psql_line_connects_over_a_unix_socket(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    socket_dir = str(pg_server.socket_dir)
    monkeypatch.setenv(
        "GF_TEST_PG_SOCKET",
        f"host={socket_dir} port={pg_server.port} user=postgres password={pg_server.password} dbname=postgres",
    )
    d = make_driver(dsn_env="GF_TEST_PG_SOCKET")
    details = await d.grant(ctx("orders.customers"))
    try:
        assert details["host"] == socket_dir
        url = psql_url(details)
        assert url.startswith(f"postgresql://{details['user']}:") and "@/orders?host=" in url
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            row = await (await conn.execute("SELECT current_user, count(*) FROM customers")).fetchone()
            assert row is not None and row[0] == details["user"]
    finally:
        await d.drop_role(details["user"])


# --- revokes of different roles do not wait for each other (point 6) ----------------------------


async def test_a_stuck_revoke_does_not_hold_up_another_roles_revoke(driver: PostgresIntegrationDriver) -> None:
    stuck, free = (
        ctx("orders.customers", grantee="stuck@example.com"),
        ctx("orders.customers", grantee="free@example.com"),
    )
    await driver.grant(stuck)
    await driver.grant(free)
    stuck_role = role_name(stuck.grantee, stuck.request_id)
    # Someone (a DBA, another tool) holds the stuck role's catalog row in an open transaction.
    blocker = await admin("postgres")
    await blocker.set_autocommit(False)
    await blocker.execute(f'ALTER ROLE "{stuck_role}" CONNECTION LIMIT 5')
    slow = asyncio.ensure_future(driver.revoke(stuck))
    try:
        await asyncio.sleep(1.0)
        assert not slow.done()
        await asyncio.wait_for(driver.revoke(free), timeout=10)
        assert not await role_exists(role_name(free.grantee, free.request_id))
    finally:
        await blocker.rollback()
        await blocker.close()
        await asyncio.wait_for(slow, timeout=30)
    assert not await role_exists(stuck_role)
