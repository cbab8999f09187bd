"""Revocation like for like (issue 14): how long access outlives its end, grantflow beside the floor.

- `timer_breakdown`: from each workflow's own history, the moment its expiry timer fired (TimerFired event
  time, the server's clock) → the revoke activity scheduled → started (picked up by a worker) → the end
  (`ended_at`, the workflow time of the task that saw the revoke complete). The same for both workflows.
- `run_revoke_burst_*`: N requests held ACTIVE (duration 1 h), then N `revoke` Updates, `concurrency` in
  flight; from the client sending the Update to `ended_at`.
- `run_idle`: benchmark 6, one request at a time on an otherwise idle worker: approve Update → the status
  query answers ACTIVE, revoke Update → the status query answers REVOKED (polled every 5 ms, both kinds).
  Also a grantflow request that was ACTIVE through 2 extensions and 50 refused messages before its revoke
  (costs must not grow with history).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from bench.floor import FLOOR_WORKFLOW
from bench.lifecycle import percentiles
from bench.stack import BENCH_APPROVER, BENCH_EXTEND_REQUESTER, BENCH_REQUESTER
from grantflow.client import GrantflowClient, Refused
from grantflow.domain.models import AccessStatus

POLL_S = 0.005
HOLD_S = 3600


@dataclass
class Breakdown:
    """Per workflow, milliseconds from the expiry timer firing."""

    to_scheduled: list[float] = field(default_factory=list)
    to_started: list[float] = field(default_factory=list)
    to_end: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "timer_to_revoke_scheduled_ms": percentiles(self.to_scheduled),
            "timer_to_revoke_started_ms": percentiles(self.to_started),
            "timer_to_end_ms": percentiles(self.to_end),
        }


def _ms(later: datetime, earlier: datetime) -> float:
    return (later.timestamp() - earlier.timestamp()) * 1000


async def _one_breakdown(client: Client, workflow_id: str, ended_at: datetime, out: Breakdown) -> None:
    fired: datetime | None = None
    scheduled: datetime | None = None
    started: datetime | None = None
    revoke_event = 0
    async for e in client.get_workflow_handle(workflow_id).fetch_history_events():
        t = e.event_time.ToDatetime(tzinfo=UTC)
        if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            fired, scheduled, started = t, None, None
        elif (
            fired is not None
            and e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and scheduled is None
            and "revoke" in e.activity_task_scheduled_event_attributes.activity_type.name
        ):
            # The revoke activity (`revoke_item`, `floor_revoke`), not a publish scheduled beside it.
            scheduled, revoke_event = t, e.event_id
        elif (
            fired is not None
            and e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            and started is None
            and scheduled is not None
            and e.activity_task_started_event_attributes.scheduled_event_id == revoke_event
        ):
            started = t
    if fired is None or scheduled is None or started is None:
        return
    out.to_scheduled.append(_ms(scheduled, fired))
    out.to_started.append(_ms(started, fired))
    out.to_end.append(_ms(ended_at, fired))


async def timer_breakdown(client: Client, ends: dict[str, datetime], in_flight: int = 20) -> Breakdown:
    """`ends`: workflow id → ended_at. Reads every history after the run (not timed)."""
    out = Breakdown()
    gate = asyncio.Semaphore(in_flight)

    async def one(wid: str, ended_at: datetime) -> None:
        async with gate:
            await _one_breakdown(client, wid, ended_at, out)

    await asyncio.gather(*(one(w, e) for w, e in ends.items()))
    return out


# --- the revoke burst ---------------------------------------------------------------------------------


async def _poll(get: Any, want: set[str], timeout: float = 600, interval: float = POLL_S) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if (await get()) in want:
                return
        except RPCError:  # a query that timed out on a worker busy with the burst: ask again
            pass
        if loop.time() > deadline:
            raise TimeoutError(f"never {want}")
        await asyncio.sleep(interval)


async def _sent(call: Callable[[], Awaitable[Any]], attempts: int = 5) -> None:
    """An Update under the burst can outlive its RPC deadline: send it again (the clock keeps the first send).
    grantflow refuses the repeat when the first was accepted ("already being revoked"): that is a success."""
    for attempt in range(attempts):
        try:
            await call()
            return
        except Refused:
            return
        except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError):
            if attempt == attempts - 1:
                raise


async def run_revoke_burst_grantflow(gf: GrantflowClient, n: int, concurrency: int) -> list[float]:
    spec = gf.build_spec(
        requester=BENCH_REQUESTER,
        integration="bench",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration=HOLD_S,
        source="bench",
    )
    gate = asyncio.Semaphore(concurrency)
    rids: list[str] = []

    async def bring_up() -> None:
        async with gate:
            sub = await gf.submit(spec)
            await gf.temporal.get_workflow_handle(sub.workflow_id).signal("approve", {"approver": BENCH_APPROVER})
        rids.append(sub.request_id)

    await asyncio.gather(*(bring_up() for _ in range(n)))
    for rid in rids:
        await _poll(lambda rid=rid: _gf_status(gf, rid), {"ACTIVE"}, interval=0.2)
    out: list[float] = []

    async def revoke(rid: str) -> None:
        async with gate:
            sent = time.time()
            await _sent(lambda: gf.revoke(rid, BENCH_REQUESTER, "bench"))
        view = await gf.temporal.get_workflow_handle(f"access-request-{rid}").result()
        out.append((datetime.fromisoformat(view["ended_at"]).timestamp() - sent) * 1000)

    await asyncio.gather(*(revoke(r) for r in rids))
    return out


async def run_revoke_burst_floor(client: Client, task_queue: str, n: int, concurrency: int) -> list[float]:
    gate = asyncio.Semaphore(concurrency)
    ids: list[str] = []

    async def bring_up() -> None:
        rid = uuid.uuid4().hex[:10]
        async with gate:
            h = await client.start_workflow(
                FLOOR_WORKFLOW, args=[rid, HOLD_S], id=f"floor-{rid}", task_queue=task_queue, result_type=dict
            )
            await h.signal("approve", {"approver": BENCH_APPROVER})
        ids.append(h.id)

    await asyncio.gather(*(bring_up() for _ in range(n)))
    for wid in ids:
        await _poll(lambda wid=wid: client.get_workflow_handle(wid).query("status"), {"ACTIVE"}, interval=0.2)
    out: list[float] = []

    async def revoke(wid: str) -> None:
        h = client.get_workflow_handle(wid, result_type=dict)
        async with gate:
            sent = time.time()
            await _sent(lambda: h.execute_update("revoke", {"actor": BENCH_REQUESTER}))
        times = await h.result()
        out.append((datetime.fromisoformat(times["ended_at"]).timestamp() - sent) * 1000)

    await asyncio.gather(*(revoke(w) for w in ids))
    return out


# --- benchmark 6: idle latency ------------------------------------------------------------------------


async def _gf_status(gf: GrantflowClient, rid: str) -> str:
    return str((await gf.status(rid)).status.value)


@dataclass
class Idle:
    approve_to_active: list[float] = field(default_factory=list)
    revoke_to_revoked: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "approve_to_active_ms": percentiles(self.approve_to_active),
            "revoke_to_revoked_ms": percentiles(self.revoke_to_revoked),
        }


async def idle_grantflow(gf: GrantflowClient, count: int, history: bool = False) -> Idle:
    """`history`: ACTIVE through 2 extensions and 50 refused messages before the revoke is timed."""
    requester = BENCH_EXTEND_REQUESTER if history else BENCH_REQUESTER
    spec = gf.build_spec(
        requester=requester,
        integration="bench",
        resource_type="folder",
        resources=["beta" if history else "alpha"],
        permission="read",
        duration=HOLD_S,
        source="bench",
    )
    out = Idle()
    for _ in range(count):
        rid = (await gf.submit(spec)).request_id
        await _idle_gf_one(gf, rid, requester, history, out)
    return out


async def _idle_gf_one(gf: GrantflowClient, rid: str, requester: str, history: bool, out: Idle) -> None:
    handle = gf.temporal.get_workflow_handle(f"access-request-{rid}")
    await _poll(lambda: _gf_approvers(gf, rid), {"ready"}, interval=0.02)
    t0 = time.perf_counter()
    await gf.approve(rid, BENCH_APPROVER, "")
    await _poll(lambda: _gf_status(gf, rid), {"ACTIVE"})
    out.approve_to_active.append((time.perf_counter() - t0) * 1000)
    if history:
        for used in (1, 2):
            await gf.extend(rid, requester)
            await _poll(lambda used=used: _gf_extended(gf, rid, used), {"yes"}, interval=0.02)  # type: ignore[misc]
        for i in range(50):
            await handle.signal("approve", {"approver": f"mallory{i % 5}@example.com"})
        await asyncio.sleep(0.5)
        await _poll(lambda: _gf_status(gf, rid), {"ACTIVE"}, interval=0.02)
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    await gf.revoke(rid, requester, "bench")
    await _poll(lambda: _gf_status(gf, rid), {"REVOKED"})
    out.revoke_to_revoked.append((time.perf_counter() - t0) * 1000)
    await handle.result()


async def _gf_approvers(gf: GrantflowClient, rid: str) -> str:
    view = await gf.status(rid)
    return "ready" if view.status == AccessStatus.PENDING_APPROVAL and view.approvers else "no"


async def _gf_extended(gf: GrantflowClient, rid: str, used: int) -> str:
    view = await gf.status(rid)
    return "yes" if view.extensions_used >= used and view.status == AccessStatus.ACTIVE else "no"


async def idle_floor(client: Client, task_queue: str, count: int) -> Idle:
    out = Idle()
    for _ in range(count):
        rid = uuid.uuid4().hex[:10]
        h = await client.start_workflow(
            FLOOR_WORKFLOW, args=[rid, HOLD_S], id=f"floor-{rid}", task_queue=task_queue, result_type=dict
        )
        await _idle_floor_one(h, out)
    return out


async def _idle_floor_one(h: WorkflowHandle[Any, Any], out: Idle) -> None:
    await _poll(lambda: h.query("status"), {"PENDING_APPROVAL"}, interval=0.02)
    t0 = time.perf_counter()
    await h.execute_update("approve", {"approver": BENCH_APPROVER})
    await _poll(lambda: h.query("status"), {"ACTIVE"})
    out.approve_to_active.append((time.perf_counter() - t0) * 1000)
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    await h.execute_update("revoke", {"actor": BENCH_REQUESTER})
    await _poll(lambda: h.query("status"), {"REVOKED"})
    out.revoke_to_revoked.append((time.perf_counter() - t0) * 1000)
    await h.result()
