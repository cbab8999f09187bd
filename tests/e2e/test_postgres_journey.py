"""A PostgreSQL role through the whole lifecycle, and what workflow history may (not) contain."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from temporalio.client import WorkflowFailureError

from grantflow.dev.demo import ensure_demo_admin
from grantflow.dev.pgserver import PgServer
from grantflow.payloads.codec import EncryptionCodec, parse_keys
from grantflow.payloads.codec_server import start as start_codec_server
from tests.conftest import DevServer, free_port
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS, Stack, start_stack


@pytest.fixture()
def demo_admin_dsn(pg_server: PgServer) -> str:
    """What `grantflow dev` hands the worker: a non-superuser CREATEROLE owner of the demo database."""
    dsn = ensure_demo_admin(pg_server.admin_dsn)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user").fetchone() == (
            False,
            True,
        )
    return dsn


@pytest.fixture()
async def pg_stack(dev_server: DevServer, demo_admin_dsn: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async for s in start_stack(dev_server, tmp_path, extra_env={"DEMO_PG_DSN": demo_admin_dsn}):
        yield s


def dsn_passwords(pg_server: PgServer, demo_admin_dsn: str) -> list[str]:
    """The superuser's and the demo admin's passwords: neither may show anywhere."""
    out = [urlsplit(pg_server.admin_dsn).password, conninfo_to_dict(demo_admin_dsn).get("password")]
    assert all(out)
    return [str(p) for p in out]


def payload_texts(node: object) -> str:
    """Every payload's data in a JSON history, base64-decoded, as one string to search."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "data" and isinstance(v, str):
                out.append(base64.b64decode(v).decode("utf-8", "replace"))
            else:
                out.append(payload_texts(v))
    elif isinstance(node, list):
        out.extend(payload_texts(v) for v in node)
    return "\n".join(x for x in out if x)


def gf_roles(admin_dsn: str) -> set[str]:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'gf\\_%'")}


async def test_postgres_role_lifecycle_and_history_has_no_secret(
    pg_stack: Stack, pg_server: PgServer, demo_admin_dsn: str
) -> None:
    st = pg_stack
    out = await st.cli_json(
        "request",
        "--as",
        "alice@example.com",
        "--integration",
        "demo-postgres",
        "--resource-type",
        "database",
        "--resource",
        "orders",
        "--permission",
        "read",
        "--duration",
        "1h",
        "--justification",
        "debug an order",
    )
    rid, wid = out["request_id"], out["workflow_id"]
    await st.cli("approve", rid, "--as", "bob@example.com", check=True)
    await st.wait_status(rid, "ACTIVE")

    refused = await st.cli("details", rid, "--as", "bob@example.com")
    assert refused.returncode == 2 and "only the grantee (alice@example.com)" in refused.stderr
    details = await st.cli_json("details", rid, "--as", "alice@example.com")
    access = details["demo-postgres/database:orders (read)"]
    password = access["password"]
    assert access["user"].startswith("gf_alice_") and access["database"] == "orders"
    assert access["psql"].startswith("psql ") and password in access["psql"]

    dsn = f"postgresql://{access['user']}:{password}@{access['host']}:{access['port']}/orders"
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO customers (name) VALUES ('eve')")

    await st.cli("revoke", rid, "--as", "alice@example.com", check=True)
    await st.wait_status(rid, "REVOKED")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=5).close()
    assert access["user"] not in gf_roles(pg_server.admin_dsn)

    # The raw history (what the server stores) and the history decoded with the key (what an operator
    # sees in the Web UI) both lack the password and the admin DSN's password.
    admin_passwords = dsn_passwords(pg_server, demo_admin_dsn)
    raw = (await st.client.get_workflow_handle(wid).fetch_history()).to_json()
    runner = await start_codec_server(EncryptionCodec(parse_keys(TEST_ENCRYPTION_KEYS)), "127.0.0.1", free_port())
    try:
        port = runner.addresses[0][1]
        shown = await st.temporal(
            "workflow", "show", "--workflow-id", wid, "--output", "json", "--codec-endpoint", f"http://127.0.0.1:{port}"
        )
    finally:
        await runner.cleanup()
    assert shown.returncode == 0, shown.stderr
    decoded = payload_texts(json.loads(shown.stdout))
    assert "debug an order" in decoded and "debug an order" not in payload_texts(json.loads(raw))
    assert "secret_ref" in decoded
    for text in (raw, shown.stdout, decoded, payload_texts(json.loads(raw))):
        assert password not in text
        for admin_password in admin_passwords:
            assert admin_password not in text


@pytest.mark.parametrize(
    "resource_type,resource,reason",
    [
        ("table", "orders.public.nope", "nope"),
        ("table", 'orders"; DROP TABLE customers;--', "DROP TABLE"),
        ("database", "nosuchdb", "nosuchdb"),
    ],
)
async def test_postgres_bad_resource_fails_the_request_and_leaves_nothing(
    pg_stack: Stack, pg_server: PgServer, demo_admin_dsn: str, resource_type: str, resource: str, reason: str
) -> None:
    before = gf_roles(pg_server.admin_dsn)
    spec = pg_stack.facade.build_spec(
        requester="alice@example.com",
        integration="demo-postgres",
        resource_type=resource_type,
        resources=[resource],
        permission="read",
        duration="1h",
        justification="bad input",
    )
    sub = await pg_stack.facade.submit(spec)
    await pg_stack.facade.approve(sub.request_id, "bob@example.com")
    view = await pg_stack.wait_status(sub.request_id, "FAILED", timeout=60)
    assert view["status_reason"].startswith("grant failed: ") and reason in view["status_reason"]
    assert gf_roles(pg_server.admin_dsn) == before
    with psycopg.connect(pg_server.dsn("orders"), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] > 0
    # The workflow ends failed once its last publish is out (then the audit trail is complete).
    with contextlib.suppress(WorkflowFailureError):
        await asyncio.wait_for(pg_stack.facade.temporal.get_workflow_handle(sub.workflow_id).result(), 60)
    events = await pg_stack.facade.audit(request_id=sub.request_id)
    failed = [e for e in events if e.action == "grant" and e.outcome == "failed"]
    # The audit trail records why, as people saw it, and nothing of the admin DSN's password.
    assert len(failed) == 1 and reason in failed[0].reason
    trail = json.dumps([e.model_dump(mode="json") for e in events])
    assert not [p for p in dsn_passwords(pg_server, demo_admin_dsn) if p in trail]


def login(access: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=access["host"],
        port=int(access["port"]),
        dbname=access["database"],
        user=access["user"],
        password=access["password"],
        autocommit=True,
        connect_timeout=5,
    )


async def granted(
    st: Stack, requester: str, approver: str, permission: str, resource_type: str, *resources: str
) -> tuple[str, dict[str, dict[str, Any]]]:
    args = ["request", "--as", requester, "--integration", "demo-postgres", "--resource-type", resource_type]
    for r in resources:
        args += ["--resource", r]
    out = await st.cli_json(*args, "--permission", permission, "--duration", "1h", "--justification", "journey")
    rid = out["request_id"]
    await st.cli("approve", rid, "--as", approver, check=True)
    await st.wait_status(rid, "ACTIVE", timeout=60)
    details: dict[str, dict[str, Any]] = await st.cli_json("details", rid, "--as", requester)
    return rid, details


async def test_every_password_of_a_two_table_request_logs_in(pg_stack: Stack, pg_server: PgServer) -> None:
    st = pg_stack
    rid, details = await granted(
        st, "alice@example.com", "bob@example.com", "read", "table", "orders.public.customers", "orders.public.orders"
    )
    assert len(details) == 2
    for key, access in details.items():
        with login(access) as conn:  # each item's password, not only the last one set
            assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] > 0, key
            assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] > 0, key
    await st.cli("revoke", rid, "--as", "alice@example.com", check=True)
    await st.wait_status(rid, "REVOKED")
    assert not {a["user"] for a in details.values()} & gf_roles(pg_server.admin_dsn)


async def test_example_permissions_do_what_they_say(pg_stack: Stack, pg_server: PgServer) -> None:
    """read, write and admin of the shipped example config, on its demo database, through the whole stack."""
    st = pg_stack
    read_id, read = await granted(st, "alice@example.com", "bob@example.com", "read", "database", "orders")
    write_id, write = await granted(st, "bob@example.com", "alice@example.com", "write", "database", "orders")
    admin_id, admin = await granted(st, "bob@example.com", "carol@example.com", "admin", "database", "orders")
    (read_access,), (write_access,), (admin_access,) = read.values(), write.values(), admin.values()

    with login(read_access) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO customers (name, email) VALUES ('r', 'read@example.com')")

    with login(write_access) as conn:  # `id serial`: INSERT needs the sequence too
        new_id = conn.execute(
            "INSERT INTO customers (name, email) VALUES ('w', 'write-journey@example.com') RETURNING id"
        ).fetchone()[0]
        assert conn.execute("UPDATE customers SET name = 'w2' WHERE id = %s", (new_id,)).rowcount == 1
        conn.execute("DELETE FROM customers WHERE id = %s", (new_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.not_mine (id int)")

    with login(admin_access) as conn:
        conn.execute("CREATE TABLE public.journey_scratch (id serial PRIMARY KEY, note text)")
        conn.execute("INSERT INTO public.journey_scratch (note) VALUES ('made by admin')")

    for rid, who in ((read_id, "alice@example.com"), (write_id, "bob@example.com"), (admin_id, "bob@example.com")):
        await st.cli("revoke", rid, "--as", who, check=True)
        await st.wait_status(rid, "REVOKED")
    with psycopg.connect(pg_server.dsn("orders"), autocommit=True) as conn:
        # What the admin grantee created went with its role (issue 10, point 1).
        assert conn.execute("SELECT to_regclass('public.journey_scratch')").fetchone() == (None,)
