"""Mistakes caught at submission (issue 13, point 1): a requested resource is checked against what its
integration discovered (real embedded PostgreSQL, the real worker, the CLI as a subprocess), refused at once
with the closest names (exit 2, nothing started), and a resource that cannot be checked says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from grantflow.domain.discovery import DISCOVERY_WORKFLOW_TYPE
from tests.conftest import DevServer
from tests.e2e.conftest import Stack, start_stack
from tests.e2e.test_postgres_journey import demo_admin_dsn, pg_stack  # noqa: F401 - fixtures

ALICE = ("--as", "alice@example.com", "--justification", "checks", "--duration", "1h")


def pg_request(resource_type: str, *resources: str, permission: str = "read") -> list[str]:
    args = ["request", *ALICE, "--integration", "demo-postgres", "--resource-type", resource_type]
    for r in resources:
        args += ["--resource", r]
    return [*args, "--permission", permission]


async def request_workflows(st: Stack) -> list[str]:
    query = f"WorkflowType = 'AccessRequestWorkflow' AND TaskQueue = '{st.settings.task_queue}'"
    return [w.id async for w in st.client.list_workflows(query)]


@pytest.mark.parametrize(
    ("resource_type", "resource", "message"),
    [
        ("database", "order", "unknown database order in demo-postgres; did you mean orders?"),
        (
            "table",
            "orders.nosuch",
            "unknown table orders.public.nosuch in demo-postgres; did you mean orders.public.orders",
        ),
        (
            "table",
            "orders",
            'a table is named DATABASE.TABLE or DATABASE.SCHEMA.TABLE, not "orders"; '
            "did you mean orders.public.orders?",
        ),
    ],
)
async def test_a_typo_is_refused_at_submission_with_the_closest_names(
    pg_stack: Stack,  # noqa: F811 - the fixture imported above
    resource_type: str,
    resource: str,
    message: str,
) -> None:
    done = await pg_stack.cli(*pg_request(resource_type, resource))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("grantflow: error: "), done.stderr
    assert message in done.stderr
    assert await request_workflows(pg_stack) == []


async def test_existing_names_pass_and_lookups_are_cached(pg_stack: Stack) -> None:  # noqa: F811
    st = pg_stack
    ok = await st.cli_json(*pg_request("table", "orders.orders", "orders.public.customers"))
    assert set(ok) == {"request_id", "workflow_id"}
    # The same facade asks the worker once per integration and type within the TTL.
    for name in ("orders.nosuch", "orders.customers"):
        with pytest.raises(Exception, match="nosuch") if "nosuch" in name else _nothing():
            await st.facade.request(
                requester="alice@example.com",
                integration="demo-postgres",
                resource_type="table",
                resources=[name],
                permission="read",
                duration="1h",
                justification="cache",
            )
    query = f"WorkflowType = '{DISCOVERY_WORKFLOW_TYPE}' AND TaskQueue = '{st.settings.task_queue}'"
    runs = [w async for w in st.client.list_workflows(query)]
    # One run from the CLI process (its own cache), one from this facade.
    assert len(runs) == 2, [w.id for w in runs]


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


UNLISTED = """\
admins: [user:ops@example.com]
groups:
  eng: [alice@example.com]
  owners: [bob@example.com]
integrations:
  - id: tickets
    type: script
    resource_types:
      - id: queue
        permissions: [read]
    grant: [python3, -c, "print('{}')"]
    revoke: [python3, -c, "pass"]
access_flows:
  - id: read
    requestors: [group:eng]
    grants:
      - {integration: tickets, resource_types: [queue], resources: ["*"], permissions: [read]}
    approvers: [group:owners]
    approvals_required: 1
    max_duration: 8h
"""


@pytest.fixture()
async def unlisted_stack(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[Stack]:
    config = tmp_path / "grantflow.yml"
    config.write_text(UNLISTED)
    async for s in start_stack(dev_server, tmp_path, config=config):
        yield s


async def test_a_resource_that_cannot_be_listed_is_accepted_and_said_unchecked(unlisted_stack: Stack) -> None:
    st = unlisted_stack
    args = ["request", *ALICE, "--integration", "tickets", "--resource-type", "queue", "--resource", "anything"]
    args += ["--permission", "read"]
    text = await st.cli(*args, check=True)
    assert "Note: tickets/queue: resources not checked (the integration lists no resources)" in text.stdout
    out = await st.cli_json(*args)
    assert out["unchecked"] == ["tickets/queue: resources not checked (the integration lists no resources)"]
    desc = await st.client.get_workflow_handle(out["workflow_id"]).describe()
    assert "resources not checked" in (await desc.static_summary() or "")
    assert "**Not checked:** tickets/queue" in (await desc.static_details() or "")
