"""A MariaDB account through the whole lifecycle with the real worker and dev server, and reconciliation.

request → approve → the shown credentials log in and can SELECT but not INSERT under `read` → an open
connection is killed on revoke → login fails → the account is gone; history and the audit trail hold no
password. Then: a request whose workflow was terminated (not revoked) leaves an orphan account that the
reconcile run drops, while accounts grantflow did not make are never touched.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import yaml

from activities.integrations.mysql import account_name
from grantflow.schedules import run_reconcile_once
from tests.conftest import MYSQL_DSN_ENV, DevServer
from tests.e2e.conftest import Stack, start_stack
from tests.e2e.test_postgres_journey import payload_texts
from tests.mariadb import MariaDbServer

CONFIG = {
    "groups": {"engineering": ["alice@example.com", "carol@example.com"], "db-owners": ["bob@example.com"]},
    "integrations": [
        {
            "id": "shop-mysql",
            "type": "mysql",
            "name": "Shop MariaDB",
            "description": "The shop database (customers, orders)",
            "tags": ["mariadb", "mysql", "shop"],
            "dsn_env": MYSQL_DSN_ENV,
            "resource_types": ["database", "table"],
        }
    ],
    "access_flows": [
        {
            "id": "shop-read",
            "requestors": ["group:engineering"],
            "grants": [
                {
                    "integration": "shop-mysql",
                    "resource_types": ["*"],
                    "resources": ["*"],
                    "permissions": ["read", "write"],
                }
            ],
            "approvers": ["group:db-owners"],
            "approvals_required": 1,
            "max_duration": "8h",
            "default_duration": "1h",
            "justification_required": True,
        }
    ],
}


@pytest.fixture()
async def mysql_stack(dev_server: DevServer, mariadb: MariaDbServer, tmp_path: Path) -> AsyncIterator[Stack]:
    config = tmp_path / "config" / "grantflow.yml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    async for s in start_stack(dev_server, tmp_path, config=config, extra_env={MYSQL_DSN_ENV: mariadb.admin_dsn}):
        yield s


async def request_read(st: Stack, requester: str = "alice@example.com") -> str:
    out = await st.cli_json(
        "request",
        "--as",
        requester,
        "--integration",
        "shop-mysql",
        "--resource-type",
        "database",
        "--resource",
        "shop",
        "--permission",
        "read",
        "--duration",
        "1h",
        "--justification",
        "look at an order",
    )
    rid: str = out["request_id"]
    await st.cli("approve", rid, "--as", "bob@example.com", check=True)
    await st.wait_status(rid, "ACTIVE", timeout=60)
    return rid


def query(conn: pymysql.connections.Connection[Any], statement: str) -> Any:
    with conn.cursor() as cur:
        cur.execute(statement)
        return cur.fetchall()


async def test_mysql_account_lifecycle(mysql_stack: Stack, mariadb: MariaDbServer) -> None:
    st = mysql_stack
    rid = await request_read(st)
    details = await st.cli_json("details", rid, "--as", "alice@example.com")
    access = details["shop-mysql/database:shop (read)"]
    assert access["user"] == account_name("alice@example.com", rid) and access["database"] == "shop"
    password = access["password"]
    assert access["dsn"] == f"mysql://{access['user']}:{password}@127.0.0.1:{mariadb.port}/shop"

    conn = mariadb.connect(access["user"], password, "shop")
    assert query(conn, "SELECT count(*) FROM customers")[0][0] >= 2
    with pytest.raises(pymysql.err.OperationalError) as denied:
        query(conn, "INSERT INTO customers (name) VALUES ('eve')")
    assert denied.value.args[0] == 1142

    await st.cli("revoke", rid, "--as", "alice@example.com", check=True)
    await st.wait_status(rid, "REVOKED", timeout=60)
    with pytest.raises((pymysql.err.OperationalError, pymysql.err.InterfaceError)):
        query(conn, "SELECT count(*) FROM customers")  # the open connection was killed
    conn.close()
    with pytest.raises(pymysql.err.OperationalError) as refused:
        mariadb.connect(access["user"], password, "shop")
    assert refused.value.args[0] == 1045
    assert access["user"] not in mariadb.accounts()

    # Neither the grantee's password nor the admin's is in workflow history or the audit trail.
    raw = (await st.client.get_workflow_handle(f"access-request-{rid}").fetch_history()).to_json()
    trail = json.dumps([e.model_dump(mode="json") for e in await st.facade.audit(request_id=rid)])
    for text in (raw, payload_texts(json.loads(raw)), trail):
        assert password not in text and mariadb.admin_password not in text
    assert password not in mariadb.general_log()


async def test_reconcile_drops_an_orphan_account_and_never_touches_others(
    mysql_stack: Stack, mariadb: MariaDbServer
) -> None:
    st = mysql_stack
    live = await request_read(st, "carol@example.com")
    stranded = await request_read(st)
    live_user, stranded_user = account_name("carol@example.com", live), account_name("alice@example.com", stranded)
    lookalike = account_name("mallory@example.com", "zzzzzzzzzz")  # our shape, no request in the index
    with mariadb.root() as conn:
        query(conn, f"CREATE USER '{lookalike}'@'%' IDENTIFIED BY 'x'")
    try:
        # Terminating a workflow (an operator's mistake) instead of revoking strands its account.
        await st.client.get_workflow_handle(f"access-request-{stranded}").terminate("operator mistake")
        report = await run_reconcile_once(st.client, st.settings.task_queue, dry_run=False)
        found = {f.handle: (f.kind, f.action) for f in report.findings}
        assert found[stranded_user] == ("orphan", "revoked")
        assert found[lookalike] == ("unmanaged", "left_alone") and found["gf_legacy"] == ("unmanaged", "left_alone")
        assert live_user not in found and "shop-mysql" in report.listed and report.in_step >= 1
        left = mariadb.accounts()
        assert stranded_user not in left
        assert {live_user, lookalike, "gf_legacy"} <= left and "app" in mariadb.accounts("%")
    finally:
        await st.cli("revoke", live, "--as", "carol@example.com", check=True)
        await st.wait_status(live, "REVOKED", timeout=60)
        with mariadb.root() as conn:
            query(conn, f"DROP USER IF EXISTS '{lookalike}'@'%'")
