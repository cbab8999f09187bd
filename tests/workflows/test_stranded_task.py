"""While a workflow task waits on the sticky queue of a worker that died, the doors answer `status` from the
request index instead of querying the workflow (grantflow/temporal.py, `task_stranded`).

A query in that window makes another worker rebuild the run halfway into the task; with temporalio 1.35.0 a
decision arriving in the same task can then run in an order its replay does not reproduce (CHANGELOG.md,
Known problems; `make sdk-hazards`). Here no worker is left at all: a query could not be answered, so a
prompt answer proves the door did not ask the workflow.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest
from temporalio.client import Client

from grantflow.client import GrantflowClient
from grantflow.dev.launcher import DevServer
from grantflow.domain.config import ConfigSource
from grantflow.storage.store import Store
from grantflow.temporal import data_converter, register_search_attributes, task_stranded
from tests.conftest import TEST_CONFIG
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS
from tests.workflows.worker_process import fresh_settings, start_worker_process

pytestmark = pytest.mark.timeout(120)


async def stack(
    dev_server: DevServer, tmp_path: Path
) -> tuple[Client, Store, GrantflowClient, subprocess.Popen[bytes]]:
    """A client, a fresh request index, the facade on both, and a worker in its own process (to kill -9)."""
    client = await Client.connect(dev_server.address, data_converter=data_converter(TEST_ENCRYPTION_KEYS))
    await register_search_attributes(client)
    settings = fresh_settings(tmp_path)
    store = Store(settings.database_url)
    store.create_all()
    gf = GrantflowClient(client, ConfigSource(TEST_CONFIG), store, settings.task_queue)
    return client, store, gf, start_worker_process(dev_server.address, settings, tmp_path / "worker.log")


async def test_status_reads_the_index_while_a_task_waits_on_a_dead_worker(
    dev_server: DevServer, tmp_path: Path
) -> None:
    client, store, gf, worker = await stack(dev_server, tmp_path)
    try:
        spec = gf.build_spec(
            requester="alice@example.com",
            integration="files",
            resource_type="folder",
            resources=["alpha"],
            permission="read",
            duration="1h",
            justification="a task left on a dead worker",
        )
        rid = (await gf.submit(spec)).request_id
        view = await gf.decided(rid, timeout=30)
        assert view.flow_id and view.status.value == "PENDING_APPROVAL"
        deadline = asyncio.get_running_loop().time() + 30
        while store.get_request(rid) is None:  # the submitted transition is published
            assert asyncio.get_running_loop().time() < deadline, "never published"
            await asyncio.sleep(0.1)
        handle = client.get_workflow_handle(f"access-request-{rid}")
        assert not await task_stranded(handle), "an idle workflow has no stranded task"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    # A decision now schedules a workflow task on the dead worker's sticky queue, where it waits.
    await handle.signal("approve", {"approver": "bob@example.com"})
    await asyncio.sleep(1.5)
    assert await task_stranded(handle)
    started = asyncio.get_running_loop().time()
    view = await asyncio.wait_for(gf.status(rid), 5)
    assert asyncio.get_running_loop().time() - started < 5
    assert view.request_id == rid and view.status.value == "PENDING_APPROVAL"
    assert view.approvers == ["bob@example.com", "carol@example.com"], "the index row, as published"


async def test_an_ended_request_is_read_without_a_worker(dev_server: DevServer, tmp_path: Path) -> None:
    """An ended run is not queried: a completed one is read from its result, a terminated one from the index.
    A query of an ended run replays its whole history, which temporalio 1.35.0 cannot do for a run that met the
    problem above (seen in `make upgrade-test`: a request REVOKED, then every query of it failed)."""
    client, store, gf, worker = await stack(dev_server, tmp_path)
    fields = dict(integration="files", resource_type="folder", permission="read", duration="1h", justification="t")
    try:
        withdrawn = (
            await gf.submit(gf.build_spec(requester="alice@example.com", resources=["alpha"], **fields))
        ).request_id
        stopped = (await gf.submit(gf.build_spec(requester="dan@example.com", resources=["beta"], **fields))).request_id
        for rid in (withdrawn, stopped):
            assert (await gf.decided(rid, timeout=30)).flow_id
        await gf.revoke(withdrawn, "alice@example.com", reason="not needed after all")
        ended = await asyncio.wait_for(gf.result(withdrawn), 30)
        assert ended.status.value == "REVOKED"
        deadline = asyncio.get_running_loop().time() + 30
        while (row := store.get_request(stopped)) is None or row.flow_id is None:
            assert asyncio.get_running_loop().time() < deadline, "the decided request was never published"
            await asyncio.sleep(0.1)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    await client.get_workflow_handle(f"access-request-{stopped}").terminate("an operator stopped it")
    # No worker is left: a query could not be answered, so prompt answers prove nobody was asked.
    assert await asyncio.wait_for(gf.status(withdrawn), 5) == ended
    view = await asyncio.wait_for(gf.status(stopped), 5)
    assert view.request_id == stopped and view.status.value == "PENDING_APPROVAL", "the index row, as published"
