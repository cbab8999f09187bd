"""Benchmark 4: thousands of requests ACTIVE at once on one dev server and one worker.

Every request is submitted with the duration that makes it expire at one common instant, so that all of
them are ACTIVE together and then expire together. Progress is read from the request index (the store),
which is also what `grantflow list` reads.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench.floor import FLOOR_WORKFLOW
from bench.stack import BENCH_AUTO_REQUESTER, ROOT, WorkerProcess
from grantflow.client import GrantflowClient


@dataclass
class ScaleResult:
    requested: int
    active_peak: int
    submit_s: float
    all_active_s: float
    list_s: float
    list_rows: int
    revoke_all_s: float
    expired: int
    worker_rss_mb: float
    worker_rss_now_mb: float
    max_cached_workflows: int

    def summary(self) -> dict[str, Any]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in self.__dict__.items()} | {
            "active": self.active_peak,
            "revocations_per_s": round(self.expired / max(self.revoke_all_s, 1e-9), 1),
        }


async def _count(gf: GrantflowClient, status: str) -> int:
    counts = await asyncio.to_thread(gf.store.count_by_status)
    return counts.get(status, 0)


async def _until(
    gf: GrantflowClient, status: str, want: int, timeout: float, worker: WorkerProcess, peak: list[float]
) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        seen = await _count(gf, status)
        peak[0] = max(peak[0], worker.memory_mb()[1])
        if seen >= want or loop.time() > deadline:
            return seen
        await asyncio.sleep(0.5)


def _time_list(env: dict[str, str]) -> tuple[float, int]:
    """`grantflow list --status ACTIVE` as a person would run it: a fresh process, all rows."""
    cli = str(Path(sys.executable).parent / "grantflow")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [cli, "list", "--status", "ACTIVE", "--json", "--limit", "100000"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"grantflow list failed: {proc.stderr.strip()[-500:]}")
    return elapsed, proc.stdout.count('"request_id"')


async def run_scale(
    gf: GrantflowClient,
    worker: WorkerProcess,
    env: dict[str, str],
    count: int,
    concurrency: int,
    hold_s: float,
    max_cached: int,
) -> ScaleResult:
    expire_at = time.time() + hold_s
    gate = asyncio.Semaphore(concurrency)
    base = gf.build_spec(
        requester=BENCH_AUTO_REQUESTER,
        integration="bench",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration=60,
        source="bench",
    )

    async def one() -> None:
        async with gate:
            seconds = max(1, math.ceil(expire_at - time.time()))
            await gf.submit(base.model_copy(update={"duration_seconds": seconds}))

    peak = [0.0]
    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    submit_s = time.perf_counter() - t0
    active = await _until(gf, "ACTIVE", count, max(5.0, expire_at - time.time() - 1), worker, peak)
    all_active_s = time.perf_counter() - t0
    list_s, list_rows = await asyncio.to_thread(_time_list, env)
    await asyncio.sleep(max(0.0, expire_at - time.time()))
    t_exp = time.perf_counter()
    expired = await _until(gf, "EXPIRED", count, 600, worker, peak)
    revoke_all_s = time.perf_counter() - t_exp
    rss_now, hwm = worker.memory_mb()
    return ScaleResult(
        requested=count,
        active_peak=active,
        submit_s=submit_s,
        all_active_s=all_active_s,
        list_s=list_s,
        list_rows=list_rows,
        revoke_all_s=revoke_all_s,
        expired=expired,
        worker_rss_mb=max(peak[0], hwm),
        worker_rss_now_mb=rss_now,
        max_cached_workflows=max_cached,
    )


async def run_scale_floor(
    client: Client, task_queue: str, count: int, concurrency: int, hold_s: float
) -> dict[str, Any]:
    """The floor of mass expiry: `count` floor workflows (granted at once, no approval) whose timers fire at
    one common instant, each followed by its revoke activity; from that instant until all have completed
    (read from the server's visibility, polled every 0.5 s like the grantflow run's request index)."""
    expire_at = time.time() + hold_s
    gate = asyncio.Semaphore(concurrency)
    query = f"WorkflowType='{FLOOR_WORKFLOW}' AND TaskQueue='{task_queue}' AND ExecutionStatus='Completed'"

    async def one() -> None:
        async with gate:
            seconds = max(1, math.ceil(expire_at - time.time()))
            rid = uuid.uuid4().hex[:10]
            await client.start_workflow(
                FLOOR_WORKFLOW, args=[rid, seconds, True], id=f"floor-scale-{rid}", task_queue=task_queue
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    submit_s = time.perf_counter() - t0
    await asyncio.sleep(max(0.0, expire_at - time.time()))
    t_exp = time.perf_counter()
    done = 0
    while done < count and time.perf_counter() - t_exp < 1200:
        done = (await client.count_workflows(query)).count
        if done < count:
            await asyncio.sleep(0.5)
    revoke_all_s = time.perf_counter() - t_exp
    return {
        "requested": count,
        "submit_s": round(submit_s, 2),
        "revoke_all_s": round(revoke_all_s, 2),
        "completed": done,
        "revocations_per_s": round(done / max(revoke_all_s, 1e-9), 1),
    }
