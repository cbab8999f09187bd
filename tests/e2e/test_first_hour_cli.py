"""What a newcomer sees from the CLI (issue 13, points 2, 3, 5 and 7), against the real stack: decisions print
the state after they took effect, `status` shows who can approve and who did, unknown ids are one line and
exit 2, and tables keep ids and emails whole at any width."""

from __future__ import annotations

import asyncio
import os

import pytest

from grantflow.dev.pgserver import PgServer
from tests.e2e.conftest import Stack
from tests.e2e.test_postgres_journey import demo_admin_dsn, pg_stack  # noqa: F401 - fixtures

WRITE = [
    "request",
    "--as",
    "alice@example.com",
    "--integration",
    "reports",
    "--resource-type",
    "folder",
    "--resource",
    "finance",
    "--permission",
    "write",
    "--duration",
    "1h",
    "--justification",
    "quarter close",
]


async def submit(st: Stack) -> str:
    rid = str((await st.cli_json(*WRITE))["request_id"])
    await st.wait_status(rid, "PENDING_APPROVAL")
    return rid


async def test_decisions_print_the_state_after_them(stack: Stack) -> None:
    rid = await submit(stack)
    status = await stack.cli("status", rid, check=True)
    assert "approvers   bob@example.com, dave@example.com" in status.stdout, status.stdout
    assert "approvals   0/1" in status.stdout
    assert "expires" not in status.stdout.replace("expires     —", "")

    approved = await stack.cli("approve", rid, "--as", "bob@example.com", "--comment", "ok", check=True)
    assert approved.stdout.startswith(f"Approved: {rid} is ACTIVE until "), approved.stdout
    status = await stack.cli("status", rid, check=True)
    assert "    - bob@example.com at " in status.stdout and ': "ok"' in status.stdout, status.stdout

    revoked = await stack.cli("revoke", rid, "--as", "alice@example.com", "--reason", "done", check=True)
    assert revoked.stdout.startswith(f"Revoked: {rid} is REVOKED"), revoked.stdout
    status = await stack.cli("status", rid, check=True)
    assert "  ended       " in status.stdout and "expires" not in status.stdout, status.stdout

    rid = await submit(stack)
    rejected = await stack.cli("reject", rid, "--as", "bob@example.com", "--reason", "not now", check=True)
    assert rejected.stdout.startswith(f"Rejected: {rid} is REJECTED"), rejected.stdout
    status = await stack.cli("status", rid, check=True)
    assert "rejected by bob@example.com" in status.stdout and "expires" not in status.stdout, status.stdout


async def test_automatic_approval_says_so_in_status(stack: Stack) -> None:
    args = ["request", "--as", "alice@example.com", "--integration", "reports", "--resource-type", "folder"]
    out = await stack.cli_json(*args, "--resource", "sales", "--permission", "read", "--wait")
    status = await stack.cli("status", out["request_id"], check=True)
    assert "approval    automatic" in status.stdout and "approvers" not in status.stdout, status.stdout


async def test_an_approval_that_ends_failed_exits_1(pg_stack: Stack, pg_server: PgServer) -> None:  # noqa: F811
    spec = pg_stack.facade.build_spec(
        requester="alice@example.com",
        integration="demo-postgres",
        resource_type="database",
        resources=["nosuchdb"],
        permission="read",
        duration="1h",
        justification="typo that slipped past the check",
    )
    sub = await pg_stack.facade.submit(spec)
    await pg_stack.wait_status(sub.request_id, "PENDING_APPROVAL")
    done = await pg_stack.cli("approve", sub.request_id, "--as", "bob@example.com")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout.startswith(f"Approved: {sub.request_id} is FAILED (grant failed: "), done.stdout
    status = await pg_stack.cli("status", sub.request_id, check=True)
    assert "expires" not in status.stdout, status.stdout


UNKNOWN = [
    ["audit", "--request", "{}"],
    ["details", "{}", "--as", "alice@example.com"],
    ["extend", "{}", "--as", "alice@example.com"],
    ["revoke", "{}", "--as", "alice@example.com"],
    ["approve", "{}", "--as", "bob@example.com"],
    ["reject", "{}", "--as", "bob@example.com"],
    ["status", "{}"],
]


async def test_an_unknown_id_is_one_line_and_exit_2(stack: Stack) -> None:
    runs = [
        (rid, [a.format(rid) for a in args]) for args in UNKNOWN for rid in ("nosuchid00", "access-request-nosuchid")
    ]
    done = await asyncio.gather(*(stack.cli(*args) for _, args in runs))
    for (rid, args), proc in zip(runs, done, strict=True):
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        want = rid.removeprefix("access-request-")
        assert proc.stderr == f"grantflow: error: unknown request id {want}\n", (args, proc.stderr)
        assert proc.stdout == "", args


async def run_wide(st: Stack, columns: int, *args: str) -> str:
    old = st.env.get("COLUMNS")
    st.env["COLUMNS"] = str(columns)
    try:
        return (await st.cli(*args, check=True)).stdout
    finally:
        if old is None:
            st.env.pop("COLUMNS", None)
        else:
            st.env["COLUMNS"] = old


@pytest.mark.parametrize("columns", [60, 200])
async def test_tables_never_cut_ids_or_emails(stack: Stack, columns: int) -> None:
    long_email = "alice@example.com"
    rid = await submit(stack)
    listing = await run_wide(stack, columns, "list")
    assert rid in listing and long_email in listing, listing
    assert "…" not in listing, listing
    audit = await run_wide(stack, columns, "audit", "--request", rid)
    assert rid in audit and long_email in audit and "…" not in audit, audit
    assert os.environ.get("COLUMNS") != "60"
