"""Benchmark 1, 2 and 5: N requests through the whole lifecycle, grantflow beside the Temporal floor.

Each request: start → `approve` signal → grant activity → ACTIVE → timer of `duration` seconds → revoke
activity → EXPIRED. Grantflow's requests go through the facade (`GrantflowClient.submit`, the same call
every front door makes) and the contract's `approve` signal; the floor's through a bare start and signal.
Throughput is N over the wall time from the first start to the last completion, minus the timer's own
duration (which no orchestration can shorten and which would otherwise pull every ratio towards 1).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.floor import FLOOR_WORKFLOW
from bench.stack import BENCH_APPROVER, BENCH_REQUESTER
from grantflow.client import GrantflowClient, final_view
from grantflow.domain.models import StatusView


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 (nearest rank) plus min and max, in the unit given."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "min": 0.0, "max": 0.0, "count": 0}
    s = sorted(values)

    def rank(p: float) -> float:
        return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]

    return {
        "p50": round(rank(50), 1),
        "p95": round(rank(95), 1),
        "p99": round(rank(99), 1),
        "min": round(s[0], 1),
        "max": round(s[-1], 1),
        "count": len(s),
    }


@dataclass
class RunResult:
    kind: str
    n: int
    wall_s: float
    duration_s: int
    approve_to_active_ms: list[float] = field(default_factory=list)
    expiry_to_revoked_ms: list[float] = field(default_factory=list)
    failures: int = 0
    sample_workflow_id: str = ""
    cpu_ms: dict[str, float] = field(default_factory=dict)
    # workflow id → ended_at, for the expiry-timer breakdown read from history (bench/revocation.py)
    ends: dict[str, datetime] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.n / max(1e-9, self.wall_s - self.duration_s)

    def summary(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "wall_s": round(self.wall_s, 2),
            "timer_s": self.duration_s,
            "rps": round(self.rps, 1),
            "failures": self.failures,
            "approve_to_active_ms": percentiles(self.approve_to_active_ms),
            "expiry_to_revoked_ms": percentiles(self.expiry_to_revoked_ms),
        }


def _ms(later: datetime, earlier: datetime | float) -> float:
    start = earlier if isinstance(earlier, float) else earlier.timestamp()
    return (later.timestamp() - start) * 1000


async def run_grantflow(gf: GrantflowClient, n: int, duration: int, concurrency: int) -> RunResult:
    spec = gf.build_spec(
        requester=BENCH_REQUESTER,
        integration="bench",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration=duration,
        source="bench",
    )
    gate = asyncio.Semaphore(concurrency)
    approved_at: dict[str, float] = {}
    views: dict[str, StatusView] = {}
    sample: list[str] = []

    async def one() -> None:
        async with gate:
            sub = await gf.submit(spec)
            handle = gf.temporal.get_workflow_handle(sub.workflow_id, result_type=StatusView)
            approved_at[sub.request_id] = time.time()
            await handle.signal("approve", {"approver": BENCH_APPROVER})
        views[sub.request_id] = await final_view(handle)
        sample.append(sub.workflow_id)

    started = time.time()
    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    result = RunResult("grantflow", n, time.perf_counter() - t0, duration, sample_workflow_id=sample[-1])
    active_at: dict[str, datetime] = {}
    for event in await asyncio.to_thread(gf.store.audit, since=datetime.fromtimestamp(started - 5).astimezone()):
        if event.request_id in views and event.action == "grant" and event.outcome == "ok":
            active_at[event.request_id] = max(event.at, active_at.get(event.request_id, event.at))
    for rid, view in views.items():
        if view.status.value != "EXPIRED" or rid not in active_at:
            result.failures += 1
            continue
        result.approve_to_active_ms.append(_ms(active_at[rid], approved_at[rid]))
        assert view.expires_at is not None and view.ended_at is not None
        result.expiry_to_revoked_ms.append(_ms(view.ended_at, view.expires_at))
        result.ends[view.workflow_id] = view.ended_at
    return result


async def run_floor(client: Client, task_queue: str, n: int, duration: int, concurrency: int) -> RunResult:
    gate = asyncio.Semaphore(concurrency)
    approved_at: dict[str, float] = {}
    out: dict[str, dict[str, str]] = {}
    sample: list[str] = []

    async def one() -> None:
        rid = uuid.uuid4().hex[:10]
        async with gate:
            handle = await client.start_workflow(
                FLOOR_WORKFLOW, args=[rid, duration], id=f"floor-{rid}", task_queue=task_queue, result_type=dict
            )
            approved_at[rid] = time.time()
            await handle.signal("approve", {"approver": BENCH_APPROVER})
        out[rid] = await handle.result()
        sample.append(handle.id)

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    result = RunResult("floor", n, time.perf_counter() - t0, duration, sample_workflow_id=sample[-1])
    for rid, times in out.items():
        result.ends[f"floor-{rid}"] = datetime.fromisoformat(times["ended_at"])
        result.approve_to_active_ms.append(_ms(datetime.fromisoformat(times["active_at"]), approved_at[rid]))
        result.expiry_to_revoked_ms.append(
            _ms(datetime.fromisoformat(times["ended_at"]), datetime.fromisoformat(times["expires_at"]))
        )
    return result


async def history_shape(client: Client, workflow_id: str) -> dict[str, int]:
    """What one request costs the server: events, workflow tasks, activities, timers, markers in its history."""
    counts: dict[str, int] = defaultdict(int)
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        counts["events"] += 1
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            counts["workflow_tasks"] += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            counts["activities"] += 1
        elif event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            counts["timers"] += 1
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            # A local activity's marker, or a `workflow.patched` marker: only the first kind has a result.
            kind = event.marker_recorded_event_attributes.marker_name
            counts["local_activities" if kind == "core_local_activity" else "patch_markers"] += 1
        elif event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            counts["search_attribute_upserts"] += 1
    return dict(counts)
