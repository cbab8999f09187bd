"""A revoke Update that reaches the workflow in the same workflow task as the grant's completion replays.

The workflow worker dies (SIGKILL) while the grant is held; the grant's retry completes on a second worker
and the revoke Update is sent at once, so one workflow task carries both. The request must end REVOKED and
its history must replay with this code (a different order on replay would stop the request after any cache
eviction: a nondeterminism error, access never revoked).

With status queries sent straight to the workflow meanwhile (`make sdk-hazards`, marker `sdk_hazard`, left out
of `make test`) the SDK's core sometimes (about 1 run in 20 here) answers a query by applying the grant's
completion before the workflow task that carries the Update, and then runs the Update in a second activation of
that task; on replay both come in one activation, the Update first, and the history no longer replays ("Update
machine does not handle this event: UpsertWorkflowSearchAttributes"). Every command in it came from this code:
an ordering problem of the SDK, not a change of our commands (CHANGELOG.md; issue 17). The doors' `status`
does not query in that window (grantflow/temporal.py, `task_stranded`): the same runs with it are the control.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateStage
from temporalio.worker import Replayer

from grantflow.client import GrantflowClient
from grantflow.dev.launcher import DevServer
from grantflow.domain.config import ConfigSource
from grantflow.storage.store import Store
from grantflow.temporal import data_converter, register_search_attributes
from tests.conftest import TEST_CONFIG
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS
from tests.workflows.conftest import RecordingNotifier
from tests.workflows.worker_process import fresh_settings, start_worker_process
from worker import ALL_WORKFLOWS, build_worker, sandbox_runner

pytestmark = pytest.mark.timeout(180)


async def wait_status(gf: GrantflowClient, rid: str, wanted: set[str], timeout: float = 60) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = (await gf.status(rid)).status.value
        if status in wanted:
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{rid}: still {status}, wanted {wanted}")
        await asyncio.sleep(0.2)


async def wait_activity_completed(client: Client, rid: str, timeout: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async for e in client.get_workflow_handle(rid).fetch_history_events():
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{rid}: the grant did not complete")


HAZARD_RUNS = int(os.environ.get("GF_HAZARD_RUNS", "1"))


async def test_revoke_update_in_the_grant_completions_workflow_task_replays(
    dev_server: DevServer, tmp_path: Path
) -> None:
    await update_beside_completion(dev_server, tmp_path, queries=None)


@pytest.mark.sdk_hazard
@pytest.mark.parametrize("run", range(HAZARD_RUNS))
async def test_with_raw_status_queries_meanwhile(dev_server: DevServer, tmp_path: Path, run: int) -> None:
    """Queries straight to the workflow, as the Web UI or `temporal workflow query` send them: reproduces the
    SDK's ordering problem (it fails while the problem shows)."""
    await update_beside_completion(dev_server, tmp_path, queries="raw")


@pytest.mark.sdk_hazard
@pytest.mark.parametrize("run", range(HAZARD_RUNS))
async def test_with_door_status_meanwhile(dev_server: DevServer, tmp_path: Path, run: int) -> None:
    """`GrantflowClient.status`, as the CLI, Slack and MCP ask: it does not query a workflow whose task waits on
    a dead worker (grantflow/temporal.py, `task_stranded`), so the problem does not show."""
    await update_beside_completion(dev_server, tmp_path, queries="door")


async def update_beside_completion(dev_server: DevServer, tmp_path: Path, *, queries: str | None) -> None:
    client = await Client.connect(dev_server.address, data_converter=data_converter(TEST_ENCRYPTION_KEYS))
    await register_search_attributes(client)
    settings = fresh_settings(tmp_path)
    state = settings.state_dir
    config, store = ConfigSource(TEST_CONFIG), Store(settings.database_url)
    gf = GrantflowClient(client, config, store, settings.task_queue)

    def worker():  # type: ignore[no-untyped-def]
        return build_worker(client, settings, config=config, store=store, notifier=RecordingNotifier())

    (state / "grant-held").touch()
    # The first worker is a process of its own, killed as a machine dies: its sticky workflow task queue is
    # left behind, so the workflow task that carries the grant's completion times out there first.
    first = start_worker_process(dev_server.address, settings, tmp_path / "worker-1.log")
    try:
        spec = gf.build_spec(
            requester="alice@example.com",
            integration="files",
            resource_type="folder",
            resources=["alpha"],
            permission="read",
            duration="1h",
            justification="an update beside a completion",
        )
        rid = (await gf.submit(spec)).workflow_id
        await gf.approve(rid, "bob@example.com")
        await wait_status(gf, rid, {"GRANTING"})
        await asyncio.sleep(0.5)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    (state / "grant-held").unlink()
    second = worker()
    async with second:
        # The grant's retry completes on the second worker (after the first attempt's heartbeat timeout);
        # the Update is sent while the workflow task that carries that completion waits on the dead queue.
        handle = client.get_workflow_handle(rid)

        async def poll_status() -> None:
            while True:
                with contextlib.suppress(Exception):
                    if queries == "raw":
                        await handle.query("status")
                    else:
                        await gf.status(rid)
                await asyncio.sleep(0.05)

        poller = asyncio.create_task(poll_status()) if queries else None
        await wait_activity_completed(client, rid)
        await handle.start_update(
            "revoke",
            {"actor": "ops@example.com", "reason": "wrong person"},
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await wait_status(gf, rid, {"REVOKED"})
        if poller is not None:
            poller.cancel()
    history = await handle.fetch_history()
    if os.environ.get("GF_DUMP"):
        Path(os.environ["GF_DUMP"]).write_text(history.to_json())
    events = history.events
    completed = next(e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    accepted = next(e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    sequenced = accepted.workflow_execution_update_accepted_event_attributes.accepted_request_sequencing_event_id
    # The case under test: no workflow task completed between the grant's completion and the Update.
    between = [
        e
        for e in events
        if completed < e.event_id < sequenced and e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    assert not between, "the Update reached the workflow in a later task than the grant's completion"
    replayer = Replayer(
        workflows=ALL_WORKFLOWS,
        data_converter=data_converter(TEST_ENCRYPTION_KEYS),
        workflow_runner=sandbox_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{rid} does not replay: {result.replay_failure}"
