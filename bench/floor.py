"""The Temporal floor: the least a lifecycle can cost on the same server with the same round trips.

One workflow start, one `approve` signal (or Update), one grant activity, one timer, one revoke activity —
and nothing else: no policy, no records, no notifications, no search attributes. The grantflow benchmark
runs it beside `AccessRequestWorkflow` in the same run, so the ratio of the two is what grantflow adds.
Run as its own process (`python -m bench.floor`) exactly like the real worker, so both pay for a process.

Like grantflow it answers a `status` query and takes `approve` and `revoke` as Updates too (benchmark 6 and
the revocation burst send them); the expiry is a timer that a `revoke` cuts short. With `auto` it starts
granting at once (the scale run's automatic flow).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

FLOOR_WORKFLOW = "FloorWorkflow"


@activity.defn(name="floor_grant")
async def floor_grant(request_id: str) -> dict[str, Any]:
    return {}


@activity.defn(name="floor_revoke")
async def floor_revoke(request_id: str) -> dict[str, Any]:
    return {}


@workflow.defn(name=FLOOR_WORKFLOW)
class FloorWorkflow:
    def __init__(self) -> None:
        self._approved = False
        self._revoked = False
        self._status = "PENDING_APPROVAL"

    @workflow.run
    async def run(self, request_id: str, duration_seconds: int, auto: bool = False) -> dict[str, str]:
        await workflow.wait_condition(lambda: self._approved or auto)
        self._status = "GRANTING"
        await workflow.execute_activity(floor_grant, request_id, start_to_close_timeout=timedelta(minutes=2))
        active_at = workflow.now()
        expires_at = active_at + timedelta(seconds=duration_seconds)
        self._status = "ACTIVE"
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._revoked, timeout=timedelta(seconds=duration_seconds))
        self._status = "REVOKING"
        await workflow.execute_activity(floor_revoke, request_id, start_to_close_timeout=timedelta(minutes=2))
        self._status = "REVOKED" if self._revoked else "EXPIRED"
        return {"active_at": _iso(active_at), "expires_at": _iso(expires_at), "ended_at": _iso(workflow.now())}

    @workflow.signal(name="approve")
    def approve(self, raw: Any = None) -> None:
        self._approved = True

    @workflow.update(name="approve")
    def approve_update(self, raw: Any = None) -> str:
        self._approved = True
        return self._status

    @workflow.update(name="revoke")
    def revoke_update(self, raw: Any = None) -> str:
        self._revoked = True
        return self._status

    @workflow.query(name="status")
    def status(self) -> str:
        return self._status


def _iso(dt: datetime) -> str:
    return dt.isoformat()


async def run_floor_worker() -> None:
    from grantflow.temporal import data_converter

    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"], data_converter=data_converter())
    worker = Worker(
        client,
        task_queue=os.environ["GRANTFLOW_TASK_QUEUE"],
        workflows=[FloorWorkflow],
        activities=[floor_grant, floor_revoke],
        max_cached_workflows=int(os.environ.get("GRANTFLOW_MAX_CACHED_WORKFLOWS", "500")),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(run_floor_worker())
