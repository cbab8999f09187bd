"""A flood of refused messages cannot kill a request (issue 10, point 12), on a real dev server.

The server is started with a low `limit.historyCount.suggestContinueAsNew`, so that a few hundred signals
make it suggest continue-as-new. Thousands of malformed and unauthorized signals then hit one request while
it waits for approval and again while it is ACTIVE; it must continue as new (new run ids, same workflow id)
and stay whole: a real approval, an extension and the expiry on time, the `status` query, every refusal
accounted for in the audit trail, and the Web UI's summary and current details on the latest run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.worker import Replayer

from grantflow.client import GrantflowClient
from grantflow.dev.launcher import DevServer
from grantflow.domain.config import ConfigSource
from grantflow.domain.models import AccessStatus, AuditEvent, StatusView
from grantflow.settings import Settings
from grantflow.storage.store import Store
from grantflow.temporal import data_converter, register_search_attributes
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS
from tests.workflows.conftest import config_with
from worker import ALL_WORKFLOWS, build_worker, sandbox_runner
from workflows.access_request import summary_line

SUGGEST_AFTER = 150  # history events; Temporal's default is 4K (and it terminates at 51,200)
FLOOD_PENDING = 1000  # signals while waiting for approval
FLOOD_ACTIVE = 400  # and while ACTIVE (the grant lasts DURATION)
DURATION = "25s"
EXTENSION = timedelta(seconds=10)

UNHANDLED_COMMAND = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
FORCE_CLOSE_COMMAND = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND
# Refused for each of the reasons a message can be: not an approver, own request, wrong state, malformed
# payload, not an object, unknown fields, and a stranger trying to revoke.
REFUSED: list[tuple[str, Any]] = [
    ("approve", {"approver": "mallory@example.com"}),
    ("approve", {"approver": "alice@example.com"}),
    ("extend", {"actor": "dan@example.com"}),
    ("approve", {"who": "bob"}),
    ("reject", "carol@example.com"),
    ("approve", {"approver": "bob@example.com", "extra": True}),
    ("revoke", {"actor": "mallory@example.com"}),
]


@pytest.fixture(scope="module")
def flood_server() -> Iterator[DevServer]:
    server = DevServer(dynamic_config={"limit.historyCount.suggestContinueAsNew": SUGGEST_AFTER}).start()
    try:
        yield server
    finally:
        server.stop()


async def flood(handle: WorkflowHandle[Any, Any], n: int) -> None:
    sem = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        name, payload = REFUSED[i % len(REFUSED)]
        async with sem:
            await handle.signal(name, payload)

    await asyncio.gather(*(one(i) for i in range(n)))


async def wait_until(probe: Any, ok: Any, timeout: float, what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if ok(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what}: last seen {value!r}")
        await asyncio.sleep(0.2)


async def chain(temporal: Client, workflow_id: str) -> list[tuple[str, WorkflowExecutionStatus | None]]:
    """Every run of the workflow id, oldest first, with how it closed (following continued_run_id back)."""
    runs: list[tuple[str, WorkflowExecutionStatus | None]] = []
    run_id: str | None = (await temporal.get_workflow_handle(workflow_id).describe()).run_id
    while run_id:
        handle = temporal.get_workflow_handle(workflow_id, run_id=run_id)
        desc = await handle.describe()
        runs.append((run_id, desc.status))
        first = None
        async for event in handle.fetch_history_events():
            first = event
            break
        assert first is not None
        run_id = first.workflow_execution_started_event_attributes.continued_execution_run_id or None
    return runs[::-1]


@pytest.fixture()
async def harness(flood_server: DevServer, tmp_path: Path) -> AsyncIterator[tuple[Client, GrantflowClient, Store]]:
    state = tmp_path / "state"
    state.mkdir()
    config_path = config_with(
        tmp_path / "config",
        "read-folders",
        extension={"enabled": True, "max_extensions": 2, "duration": "10s", "notify_before": "5s"},
    )
    settings = Settings(
        TEMPORAL_ADDRESS=flood_server.address,
        GRANTFLOW_TASK_QUEUE=f"flood-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=f"sqlite:///{tmp_path}/gf.db",
        GRANTFLOW_STATE_DIR=str(state),
        GRANTFLOW_CONFIG=str(config_path),
    )
    temporal = await Client.connect(flood_server.address, data_converter=data_converter(TEST_ENCRYPTION_KEYS))
    await register_search_attributes(temporal)
    config = ConfigSource(config_path)
    store = Store(settings.database_url)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRANTFLOW_STATE_DIR", str(state))
        async with build_worker(temporal, settings, config=config, store=store):
            yield temporal, GrantflowClient(temporal, config, store, settings.task_queue), store


def refusals_accounted(events: list[AuditEvent]) -> int:
    """Refused messages the audit trail accounts for: each recorded one, plus what each summary counted."""
    return sum(int(e.detail.get("suppressed", 1)) for e in events if e.outcome == "refused")


async def test_a_flood_continues_as_new_and_loses_nothing(
    harness: tuple[Client, GrantflowClient, Store],
) -> None:
    temporal, client, store = harness
    spec = client.build_spec(
        requester="alice@example.com",
        integration="files",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration=DURATION,
        justification="flood test",
    )
    sub = await client.submit(spec)
    rid, wid = sub.request_id, sub.workflow_id
    handle = temporal.get_workflow_handle(wid)
    await client.wait_for(rid, {AccessStatus.PENDING_APPROVAL})
    first_run = (await handle.describe()).run_id

    # Waiting for approval: the flood makes the request continue as new, still pending.
    await flood(handle, FLOOD_PENDING)
    pending_run = await wait_until(
        lambda: handle.describe(), lambda d: d.run_id != first_run, 30, "no continue-as-new while pending"
    )
    view = await client.status(rid)
    assert view.status == AccessStatus.PENDING_APPROVAL and view.approvals == []
    assert view.flow_id == "read-folders" and view.approvers == ["bob@example.com", "carol@example.com"]

    # A real approval in the new run.
    await client.approve(rid, "bob@example.com", comment="go")
    active = await client.wait_for(rid, {AccessStatus.ACTIVE})
    assert active.status == AccessStatus.ACTIVE and active.expires_at is not None
    assert [a.approver for a in active.approvals] == ["bob@example.com"]
    expires = active.expires_at

    # Holding ACTIVE: flooded again, it continues as new again with the same expiry.
    before = (await handle.describe()).run_id
    await flood(handle, FLOOD_ACTIVE)
    await wait_until(lambda: handle.describe(), lambda d: d.run_id != before, 30, "no continue-as-new while ACTIVE")
    view = await client.status(rid)
    assert view.status == AccessStatus.ACTIVE and view.expires_at == expires
    assert view.granted_at == active.granted_at and view.approvals == active.approvals

    extended = await client.extend(rid, "alice@example.com")
    assert extended.expires_at == expires + EXTENSION
    view = await client.wait_for(rid, {AccessStatus.EXPIRED}, timeout=90)
    assert view.status == AccessStatus.EXPIRED, view.status_reason
    assert view.expires_at == expires + EXTENSION and view.extensions_used == 1
    assert view.ended_at is not None
    late = view.ended_at - view.expires_at
    assert timedelta(0) <= late < timedelta(seconds=5), f"revoked {late} after the extended expiry"

    # Same workflow id, several runs: every earlier one closed as continued-as-new. The last one completes
    # after publishing its end (status is EXPIRED a publish before that): wait for it to close.
    await asyncio.wait_for(temporal.get_workflow_handle(wid).result(), timeout=60)
    runs = await chain(temporal, wid)
    assert len(runs) >= 3, runs
    assert runs[0][0] == first_run and pending_run.run_id in [r for r, _ in runs]
    assert [s for _, s in runs[:-1]] == [WorkflowExecutionStatus.CONTINUED_AS_NEW] * (len(runs) - 1)
    assert runs[-1][1] == WorkflowExecutionStatus.COMPLETED
    signaled = {}
    for run_id, _ in runs:
        signaled[run_id] = len(
            [
                e
                async for e in temporal.get_workflow_handle(wid, run_id=run_id).fetch_history_events()
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            ]
        )
    assert sum(signaled.values()) == FLOOD_PENDING + FLOOD_ACTIVE, "every signal reached a run"
    for run_id, _ in runs:
        # A signal that lands while a run completes makes the server refuse that completion (UnhandledCommand);
        # the task runs again with the signal. That is how continue-as-new keeps signals, not a failure. Nor is
        # the server failing a task in flight (ForceCloseCommand, by the history service) once more signals
        # were buffered than it keeps beside one task: the task runs again with them. (A run the server closed
        # by force would not have ended COMPLETED or CONTINUED_AS_NEW, asserted above.)
        failed = [
            e
            async for e in temporal.get_workflow_handle(wid, run_id=run_id).fetch_history_events()
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            and e.workflow_task_failed_event_attributes.cause not in (UNHANDLED_COMMAND, FORCE_CLOSE_COMMAND)
        ]
        assert failed == [], (run_id, failed[0].workflow_task_failed_event_attributes)

    # Every run replays with this code (the resumed runs start from their carried state).
    replayer = Replayer(
        workflows=ALL_WORKFLOWS, data_converter=data_converter(TEST_ENCRYPTION_KEYS), workflow_runner=sandbox_runner()
    )
    for run_id, _ in runs:
        history = await temporal.get_workflow_handle(wid, run_id=run_id).fetch_history()
        await replayer.replay_workflow(history)

    # The audit trail: one request, one approval, the grant, the extension, the expiry, unique keys in order,
    # and every refused signal accounted for (recorded, or counted in a summary).
    events = await wait_until(
        lambda: client.audit(request_id=rid),
        lambda es: refusals_accounted(es) >= FLOOD_PENDING + FLOOD_ACTIVE and "expired" in [e.action for e in es],
        30,
        "refusals or the expiry missing from the audit trail",
    )
    assert refusals_accounted(events) == FLOOD_PENDING + FLOOD_ACTIVE
    recorded = [e for e in events if e.outcome == "refused" and "suppressed" not in e.detail]
    assert len(recorded) < 60, f"{len(recorded)} refusals recorded one by one"
    keys = [int(e.key.split(":")[1]) for e in events]
    assert sorted(keys) == list(range(1, len(keys) + 1)), "audit keys continue across runs"
    actions = [e.action for e in events if e.outcome != "refused"]
    for once in ("request", "approve", "grant", "extend", "revoke", "expired"):
        assert actions.count(once) == 1, (once, actions)
    continued = [e for e in events if e.action == "continue_as_new"]
    assert len(continued) == len(runs) - 1
    assert [e.detail["run"] for e in continued] == list(range(2, len(runs) + 1))

    # The request index and the Web UI of the latest run.
    row = store.get_request(rid)
    assert row is not None and row.status == AccessStatus.EXPIRED
    desc = await handle.describe()
    assert desc.search_attributes.get("AccessStatus") == ["EXPIRED"]
    assert desc.search_attributes.get("AccessRequester") == ["alice@example.com"]
    meta = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert meta.current_details == summary_line(StatusView.model_validate(view.model_dump()))
    assert "alice@example.com → files/alpha (read)" in meta.current_details
    # The static summary is set by the client at start; continue-as-new cannot carry it (the SDK's
    # continue_as_new takes no summary), so the first run keeps it and the latest run shows current details.
    first = await temporal.get_workflow_handle(wid, run_id=first_run).describe()
    assert await first.static_summary() == "alice@example.com → files/alpha (read) for 25s"


def test_an_accepted_batch_replaces_what_a_refused_task_published(tmp_path: Path) -> None:
    """A workflow task that the server refuses (signals arrived while it continued as new) may already have
    published its events through a local activity; its accepted retry publishes the same keys with what
    really happened (here: a larger count). The accepted version stands; a plain retry changes nothing."""
    store = Store(f"sqlite:///{tmp_path}/gf.db")
    store.create_all()
    view = StatusView(
        request_id="r1",
        workflow_id="access-request-r1",
        status=AccessStatus.PENDING_APPROVAL,
        requester="alice@example.com",
        grantee="alice@example.com",
        grants=[],
        duration_seconds=60,
        submitted_at=datetime(2026, 1, 1, tzinfo=UTC),
    )

    def summary(n: int) -> AuditEvent:
        return AuditEvent(
            key="r1:7",
            request_id="r1",
            at=datetime(2026, 1, 1, tzinfo=UTC),
            actor="mallory@example.com",
            action="approve",
            outcome="refused",
            reason=f"and {n} more refused in the last minute",
            detail={"suppressed": n},
        )

    assert store.record(view, [summary(131)]) == 1
    assert store.record(view, [summary(131)]) == 0, "a retried batch is not new"
    assert store.record(view, [summary(1423)]) == 1
    [row] = store.audit(request_id="r1")
    assert row.detail == {"suppressed": 1423}
