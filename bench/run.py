"""`make bench`: lifecycle throughput against the Temporal floor, latencies, cost growth, scale, Slack acks.

Usage: python -m bench.run [--n 300] [--sizes 100,300,1000] [--scale 5000] [--profile]
Writes bench/results.json and prints a table. See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from temporalio.client import Client

from bench.lifecycle import RunResult, history_shape, percentiles, run_floor, run_grantflow
from bench.stack import ROOT, TemporalServer, WorkerProcess, cpu_seconds, wait_for_poller, write_bench_config
from grantflow.client import GrantflowClient
from grantflow.domain.config import ConfigSource
from grantflow.payloads.codec import new_key_entry
from grantflow.storage.store import Store
from grantflow.temporal import data_converter

HERE = Path(__file__).resolve().parent
console = Console(width=120)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--n", type=int, default=int(os.environ.get("N") or 300), help="lifecycle size (default 300)")
    p.add_argument("--sizes", default="100,300,1000", help="sizes for the cost-growth run (comma list; empty to skip)")
    p.add_argument("--duration", type=int, default=2, help="seconds each request stays ACTIVE")
    p.add_argument("--concurrency", type=int, default=50, help="starts and signals in flight")
    p.add_argument("--rounds", type=int, default=1, help="alternating floor/grantflow rounds per size")
    p.add_argument("--scale", type=int, default=0, help="requests ACTIVE at once (0 skips; the issue asks 5000)")
    p.add_argument(
        "--scale-hold",
        type=float,
        default=0.0,
        help="seconds from the first scale submission to the common expiry (default: by size)",
    )
    p.add_argument("--slack", type=int, default=500, help="signed button clicks for the Slack ack run (0 skips)")
    p.add_argument("--max-cached-workflows", type=int, default=500)
    p.add_argument("--revoke-n", type=int, default=-1, help="revoke-Update burst size (default: --n; 0 skips)")
    p.add_argument("--idle", type=int, default=30, help="benchmark 6: requests one at a time (0 skips)")
    p.add_argument(
        "--baseline",
        default="",
        help="a git ref whose worker runs beside this checkout's in the same run (kind `baseline`: before/after)",
    )
    p.add_argument("--profile", action="store_true", help="run the grantflow worker under cProfile")
    p.add_argument("--out", type=Path, default=HERE / "results.json")
    p.add_argument("--keep", action="store_true", help="keep the run folder (databases, worker logs)")
    return p.parse_args(argv)


class Bench:
    def __init__(self, args: argparse.Namespace, folder: Path):
        self.args = args
        self.folder = folder
        self.keys = new_key_entry("bench")
        self.server = TemporalServer(folder / "temporal.db")
        self.config_path = write_bench_config(folder / "config")
        self.workers: list[WorkerProcess] = []

    def grantflow_env(self, task_queue: str) -> dict[str, str]:
        (self.folder / "state").mkdir(exist_ok=True)
        return {
            "TEMPORAL_ADDRESS": self.server.address,
            "GRANTFLOW_TASK_QUEUE": task_queue,
            "DATABASE_URL": f"sqlite:///{self.folder}/grantflow.db",
            "GRANTFLOW_CONFIG": str(self.config_path),
            "GRANTFLOW_STATE_DIR": str(self.folder / "state"),
            "GRANTFLOW_ENCRYPTION_KEYS": self.keys,
            "GRANTFLOW_MAX_CACHED_WORKFLOWS": str(self.args.max_cached_workflows),
            "GRANTFLOW_LOG_LEVEL": "WARNING",
            "SLACK_BOT_TOKEN": "",
        }

    async def worker(
        self,
        client: Client,
        module: str,
        env: dict[str, str],
        name: str,
        profile: bool = False,
        cwd: Path | None = None,
    ) -> WorkerProcess:
        args: tuple[str, ...] = ("-m", "cProfile", "-o", str(self.folder / f"{name}.prof")) if profile else ()
        if profile:
            proc = WorkerProcess(env, self.folder / f"{name}.log", module="worker", python_args=args[:-2])
            proc.python_args = ("-m", "cProfile", "-o", str(self.folder / f"{name}.prof"), "-m", module)
            proc.module = ""
        else:
            proc = WorkerProcess(env, self.folder / f"{name}.log", module=module, cwd=cwd or ROOT)
        proc.start()
        self.workers.append(proc)
        await wait_for_poller(client, env["GRANTFLOW_TASK_QUEUE"])
        return proc

    def close(self) -> None:
        for w in reversed(self.workers):
            w.stop()
        self.server.stop()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="gf-bench-"))
    bench = Bench(args, folder)
    bench.server.start()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {
            "duration_s": args.duration,
            "concurrency": args.concurrency,
            "max_cached_workflows": args.max_cached_workflows,
            "rounds": args.rounds,
        },
    }
    try:
        client = await Client.connect(bench.server.address, data_converter=data_converter(bench.keys))
        gf_queue, floor_queue = f"bench-gf-{uuid.uuid4().hex[:6]}", f"bench-floor-{uuid.uuid4().hex[:6]}"
        gf_env = bench.grantflow_env(gf_queue)
        gf_worker = await bench.worker(client, "worker", gf_env, "grantflow-worker", profile=args.profile)
        floor_env = {**gf_env, "GRANTFLOW_TASK_QUEUE": floor_queue}
        floor_worker = await bench.worker(client, "bench.floor", floor_env, "floor-worker")
        gf = GrantflowClient(client, ConfigSource(bench.config_path), Store(gf_env["DATABASE_URL"]), gf_queue)
        await asyncio.to_thread(gf.store.create_all)
        base: GrantflowClient | None = None
        base_worker: WorkerProcess | None = None
        if args.baseline:
            base, base_worker = await _baseline(bench, client, args.baseline)
            results["baseline"] = args.baseline

        console.print(f"[dim]run folder {folder}; warming up the workers[/dim]")
        await run_floor(client, floor_queue, 10, 1, 10)
        await run_grantflow(gf, 10, 1, 10)
        if base is not None:
            await run_grantflow(base, 10, 1, 10)
        kinds = ("floor", "grantflow", "baseline") if base is not None else ("floor", "grantflow")
        clients = {"grantflow": gf, "baseline": base}
        workers = {"floor": floor_worker, "grantflow": gf_worker, "baseline": base_worker}

        sizes = sorted({args.n, *(int(s) for s in args.sizes.split(",") if s.strip())} - {0})
        by_size: dict[int, dict[str, list[RunResult]]] = {}
        for n in sizes:
            for _ in range(args.rounds):
                for kind in kinds:
                    console.print(f"[dim]lifecycle n={n}: {kind}[/dim]")
                    worker = workers[kind]
                    assert worker is not None
                    cpu = (worker.cpu_seconds(), bench.server.cpu_seconds(), cpu_seconds(os.getpid()))
                    kc = clients.get(kind)
                    if kc is None:
                        r = await run_floor(client, floor_queue, n, args.duration, args.concurrency)
                    else:
                        r = await run_grantflow(kc, n, args.duration, args.concurrency)
                        r.kind = kind
                    r.cpu_ms = {
                        "worker": (worker.cpu_seconds() - cpu[0]) * 1000 / n,
                        "server": (bench.server.cpu_seconds() - cpu[1]) * 1000 / n,
                        "client": (cpu_seconds(os.getpid()) - cpu[2]) * 1000 / n,
                    }
                    by_size.setdefault(n, {}).setdefault(kind, []).append(r)
        if by_size:
            results["growth"] = [_pair(n, runs) for n, runs in by_size.items()]
        await _lifecycle_figures(results, by_size.get(args.n), client, gf_worker)
        revoke_n = args.n if args.revoke_n < 0 else args.revoke_n
        try:
            results["revocation"] = await _revocation(
                client, by_size.get(args.n), clients, floor_queue, revoke_n, args.concurrency
            )
        except Exception as exc:  # keep the other figures
            console.print(f"[red]revocation run failed: {exc!r}[/red]")
            results["revocation"] = {"skipped": f"failed: {exc!r}"[:300]}
        if not results["revocation"]:
            del results["revocation"]
        if args.idle:
            try:
                results["idle_latency"] = await _idle(client, clients, floor_queue, args.idle)
            except Exception as exc:
                console.print(f"[red]idle run failed: {exc!r}[/red]")
                results["idle_latency"] = {"skipped": f"failed: {exc!r}"[:300]}
        if args.slack and args.n:
            results["slack_ack_ms"] = await _slack(bench, gf, args)
        if args.scale:
            results["scale"] = await _scale(bench, client, args)
            sc = results["scale"]
            results["mass_expiry"] = {
                "count": args.scale,
                "grantflow_revocations_per_s": sc["revocations_per_s"],
                "floor_revocations_per_s": sc["floor"]["revocations_per_s"],
                "grantflow_revoke_all_s": sc["revoke_all_s"],
                "floor_revoke_all_s": sc["floor"]["revoke_all_s"],
                "ratio_time": round(sc["revoke_all_s"] / max(sc["floor"]["revoke_all_s"], 1e-9), 2),
            }
    finally:
        bench.close()
        if args.profile:
            results["profile"] = str(folder / "grantflow-worker.prof")
        if not (args.keep or args.profile):
            shutil.rmtree(folder, ignore_errors=True)
        else:
            console.print(f"[dim]kept {folder}[/dim]")
    return results


async def _lifecycle_figures(
    results: dict[str, Any], main: dict[str, list[RunResult]] | None, client: Client, gf_worker: WorkerProcess
) -> None:
    if main is None:
        return
    gf_run = _best(main["grantflow"])
    results["lifecycle"] = _pair(gf_run.n, main)
    if "baseline" in main:
        results["lifecycle"]["baseline"] = _pair(gf_run.n, {"grantflow": main["baseline"], "floor": main["floor"]})
    floor_run = _best(main["floor"])
    results["latency_ms"] = {
        "approve_to_active": gf_run.summary()["approve_to_active_ms"],
        "expiry_to_revoked": gf_run.summary()["expiry_to_revoked_ms"],
        "floor_approve_to_active": floor_run.summary()["approve_to_active_ms"],
        "floor_expiry_to_revoked": floor_run.summary()["expiry_to_revoked_ms"],
    }
    results["per_request"] = {
        "grantflow": await history_shape(client, gf_run.sample_workflow_id),
        "floor": await history_shape(client, floor_run.sample_workflow_id),
    }
    _, hwm = gf_worker.memory_mb()
    results["lifecycle"]["worker_rss_mb"] = round(hwm, 1)


async def _scale(bench: Bench, client: Client, args: argparse.Namespace) -> dict[str, Any]:
    """On a fresh worker and a request index of its own, so that earlier runs count for nothing."""
    from bench.scale import run_scale

    scale_queue = f"bench-scale-{uuid.uuid4().hex[:6]}"
    scale_env = {**bench.grantflow_env(scale_queue), "DATABASE_URL": f"sqlite:///{bench.folder}/scale.db"}
    for w in bench.workers:
        w.stop()
    hold = args.scale_hold or 60 + args.scale / 15
    from bench.scale import run_scale_floor

    floor_queue = f"bench-floor-scale-{uuid.uuid4().hex[:6]}"
    floor_worker = await bench.worker(
        client, "bench.floor", {**scale_env, "GRANTFLOW_TASK_QUEUE": floor_queue}, "floor-scale-worker"
    )
    console.print(f"[dim]mass expiry floor: {args.scale} floor workflows expiring together {hold:.0f}s on[/dim]")
    floor = await run_scale_floor(client, floor_queue, args.scale, args.concurrency, hold)
    floor_worker.stop()
    scale_worker = await bench.worker(client, "worker", scale_env, "scale-worker")
    console.print(f"[dim]scale: {args.scale} requests expiring together {hold:.0f}s after the first[/dim]")
    store = Store(scale_env["DATABASE_URL"])
    await asyncio.to_thread(store.create_all)
    scale_gf = GrantflowClient(client, ConfigSource(bench.config_path), store, scale_queue)
    sr = await run_scale(
        scale_gf, scale_worker, scale_env, args.scale, args.concurrency, hold, args.max_cached_workflows
    )
    return {**sr.summary(), "floor": floor}


async def _baseline(bench: Bench, client: Client, ref: str) -> tuple[GrantflowClient, WorkerProcess]:
    """The worker of another commit (`git archive`, no worktree), on its own task queue and database."""
    tree = bench.folder / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    queue = f"bench-base-{uuid.uuid4().hex[:6]}"
    env = {**bench.grantflow_env(queue), "DATABASE_URL": f"sqlite:///{bench.folder}/baseline.db"}
    proc = await bench.worker(client, "worker", env, "baseline-worker", cwd=tree)
    store = Store(env["DATABASE_URL"])
    await asyncio.to_thread(store.create_all)
    return GrantflowClient(client, ConfigSource(bench.config_path), store, queue), proc


async def _revocation(
    client: Client,
    main: dict[str, list[RunResult]] | None,
    clients: dict[str, GrantflowClient | None],
    floor_queue: str,
    n: int,
    concurrency: int,
) -> dict[str, Any]:
    """Issue 14: expiry timer → end (from each history) in the lifecycle burst, and a burst of revoke Updates."""
    from bench.revocation import run_revoke_burst_floor, run_revoke_burst_grantflow, timer_breakdown

    out: dict[str, Any] = {}
    if main is not None:
        out["expiry_timer"] = {
            kind: (await timer_breakdown(client, _best(runs).ends)).summary() for kind, runs in main.items()
        }
    if n:
        burst: dict[str, Any] = {"n": n}
        console.print(f"[dim]revoke burst n={n}: floor[/dim]")
        burst["floor"] = percentiles(await run_revoke_burst_floor(client, floor_queue, n, concurrency))
        for kind, kc in clients.items():
            if kc is not None:
                console.print(f"[dim]revoke burst n={n}: {kind}[/dim]")
                burst[kind] = percentiles(await run_revoke_burst_grantflow(kc, n, concurrency))
        out["revoke_update_to_end_ms"] = burst
    return out


async def _idle(
    client: Client, clients: dict[str, GrantflowClient | None], floor_queue: str, count: int
) -> dict[str, Any]:
    """Benchmark 6: one request at a time, alternating kinds in rounds of 5 so that load drifts evenly."""
    from bench.revocation import Idle, idle_floor, idle_grantflow

    acc: dict[str, Idle] = {}
    for done in range(0, count, 5):
        step = min(5, count - done)
        console.print(f"[dim]idle latency {done + step}/{count}[/dim]")
        parts = {"floor": await idle_floor(client, floor_queue, step)}
        for kind, kc in clients.items():
            if kc is not None:
                parts[kind] = await idle_grantflow(kc, step)
                parts[f"{kind}_after_history"] = await idle_grantflow(kc, step, history=True)
        for kind, part in parts.items():
            a = acc.setdefault(kind, Idle())
            a.approve_to_active += part.approve_to_active
            a.revoke_to_revoked += part.revoke_to_revoked
    out: dict[str, Any] = {"count": count, **{k: v.summary() for k, v in acc.items()}}
    f = acc["floor"]
    for kind in acc:
        if kind != "floor":
            out[kind]["ratio_p50"] = {
                "approve_to_active": _ratio(acc[kind].approve_to_active, f.approve_to_active),
                "revoke_to_revoked": _ratio(acc[kind].revoke_to_revoked, f.revoke_to_revoked),
            }
    return out


def _ratio(a: list[float], b: list[float]) -> float:
    pa, pb = percentiles(a)["p50"], percentiles(b)["p50"]
    return round(pa / pb, 2) if pb else 0.0


def _best(runs: list[RunResult]) -> RunResult:
    """With several rounds, the median run by throughput (one noisy neighbour does not decide)."""
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


def _pair(n: int, runs: dict[str, list[RunResult]]) -> dict[str, Any]:
    g, f = _best(runs["grantflow"]), _best(runs["floor"])
    return {
        "n": n,
        "grantflow_rps": round(g.rps, 1),
        "floor_rps": round(f.rps, 1),
        "ratio": round(g.rps / f.rps, 3) if f.rps else 0.0,
        "grantflow_wall_s": round(g.wall_s, 2),
        "floor_wall_s": round(f.wall_s, 2),
        "grantflow_failures": g.failures,
        "cpu_ms_per_request": {
            "grantflow": {k: round(v, 2) for k, v in g.cpu_ms.items()},
            "floor": {k: round(v, 2) for k, v in f.cpu_ms.items()},
        },
        "ratios_all_rounds": [round(a.rps / b.rps, 3) for a, b in zip(runs["grantflow"], runs["floor"], strict=True)],
    }


async def _slack(bench: Bench, gf: GrantflowClient, args: argparse.Namespace) -> dict[str, Any]:
    try:
        from bench.slack import run_slack_acks
    except ImportError as exc:
        console.print(f"[yellow]Slack ack run skipped: {exc}[/yellow]")
        return {"skipped": str(exc)}
    try:
        return await run_slack_acks(bench.folder, gf, clicks=args.slack, commands=max(1, args.slack // 5), in_flight=20)
    except Exception as exc:  # the Slack app is young: report its failure, keep the other figures
        console.print(f"[red]Slack ack run failed: {exc!r}[/red]")
        return {"skipped": f"failed: {exc!r}"[:300]}


def print_table(results: dict[str, Any]) -> None:
    t = Table(title=f"grantflow bench · {results['machine']['cpus']} CPUs · {results['when']}")
    t.add_column("benchmark")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("goal")
    lc = results.get("lifecycle")
    if lc:
        t.add_row(f"1 lifecycle (n={lc['n']})", "grantflow req/s", f"{lc['grantflow_rps']}", "")
        t.add_row("", "floor req/s", f"{lc['floor_rps']}", "")
        ok = "[green]" if lc["ratio"] >= 0.9 else "[yellow]" if lc["ratio"] >= 0.6 else "[red]"
        t.add_row("", "ratio grantflow/floor", f"{ok}{lc['ratio']:.2f}", "≥ 0.9 (bar ≥ 0.6)")
        t.add_row("", "worker peak RSS", f"{lc['worker_rss_mb']} MB", "")
    lat = results.get("latency_ms")
    if lat:
        for key, label in (("approve_to_active", "approve → ACTIVE"), ("expiry_to_revoked", "expiry → REVOKED")):
            g, f = lat[key], lat[f"floor_{key}"]
            t.add_row(
                "2 latency" if key == "approve_to_active" else "",
                f"{label} p50/p95/p99 ms",
                f"{g['p50']:.0f} / {g['p95']:.0f} / {g['p99']:.0f}",
                f"floor {f['p50']:.0f} / {f['p95']:.0f} / {f['p99']:.0f}",
            )
    sl = results.get("slack_ack_ms")
    if sl and "p50" in sl:
        t.add_row("3 Slack ack", "p50 / p99 ms", f"{sl['p50']:.0f} / {sl['p99']:.0f}", "p99 < 300 ms")
    elif sl:
        t.add_row("3 Slack ack", "skipped", "", sl.get("skipped", ""))
    sc = results.get("scale")
    if sc:
        t.add_row(f"4 scale ({sc['requested']})", "ACTIVE at once", f"{sc['active']}", "")
        t.add_row("", "worker peak RSS", f"{sc['worker_rss_mb']:.0f} MB", "< 400 MB")
        t.add_row("", "submit all", f"{sc['submit_s']:.1f} s", "")
        t.add_row("", "all ACTIVE after", f"{sc['all_active_s']:.1f} s", "")
        t.add_row("", "grantflow list --status ACTIVE", f"{sc['list_s']:.2f} s ({sc['list_rows']} rows)", "")
        t.add_row("", "all revoked after the common expiry", f"{sc['revoke_all_s']:.1f} s", f"{sc['expired']} EXPIRED")
    for i, g in enumerate(results.get("growth", [])):
        t.add_row(
            "5 growth" if i == 0 else "",
            f"n={g['n']} grantflow / floor req/s",
            f"{g['grantflow_rps']} / {g['floor_rps']}",
            f"ratio {g['ratio']:.2f}",
        )
    if lc:
        for kind in ("grantflow", "floor"):
            c = lc["cpu_ms_per_request"][kind]
            t.add_row(
                "CPU per request" if kind == "grantflow" else "",
                kind,
                f"{c['worker']:.1f} ms worker",
                f"{c['server']:.1f} ms server, {c['client']:.1f} ms bench client",
            )
    _revocation_rows(t, results)
    per = results.get("per_request")
    if per:
        for kind in ("grantflow", "floor"):
            s = per[kind]
            t.add_row(
                "per request" if kind == "grantflow" else "",
                kind,
                f"{s.get('events', 0)} events",
                f"{s.get('workflow_tasks', 0)} WFTs, {s.get('activities', 0)} activities, "
                f"{s.get('local_activities', 0)} local, {s.get('patch_markers', 0)} patch markers, "
                f"{s.get('timers', 0)} timers",
            )
    console.print(t)


def _p(d: dict[str, Any]) -> str:
    return f"{d['p50']:.0f} / {d['p95']:.0f} / {d['p99']:.0f}"


def _revocation_rows(t: Table, results: dict[str, Any]) -> None:
    rv = results.get("revocation") or {}
    for kind, b in (rv.get("expiry_timer") or {}).items():
        t.add_row("R expiry timer → end", f"{kind} p50/p95/p99 ms", _p(b["timer_to_end_ms"]), "")
        t.add_row(
            "",
            f"{kind} → revoke scheduled / started",
            _p(b["timer_to_revoke_scheduled_ms"]),
            _p(b["timer_to_revoke_started_ms"]),
        )
    burst = rv.get("revoke_update_to_end_ms") or {}
    for kind, d in burst.items():
        if kind != "n":
            t.add_row(f"R revoke Update → end (n={burst['n']})" if kind == "floor" else "", kind, _p(d), "")
    idle = results.get("idle_latency") or {}
    for kind, d in idle.items():
        if isinstance(d, dict) and "approve_to_active_ms" in d:
            r = d.get("ratio_p50", {})
            t.add_row(
                "6 idle latency" if kind == "floor" else "",
                f"{kind}: approve → ACTIVE / revoke → REVOKED p50/p95/p99 ms",
                f"{_p(d['approve_to_active_ms'])} · {_p(d['revoke_to_revoked_ms'])}",
                f"ratio p50 {r.get('approve_to_active', '')} / {r.get('revoke_to_revoked', '')}" if r else "",
            )
    me = results.get("mass_expiry")
    if me:
        t.add_row(
            f"4 mass expiry ({me['count']})",
            "grantflow / floor revocations/s",
            f"{me['grantflow_revocations_per_s']} / {me['floor_revocations_per_s']}",
            f"time ratio {me['ratio_time']} (goal ≤ 2)",
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    results = asyncio.run(main_async(args))
    results["bench_seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    previous: dict[str, Any] = {}
    if args.out.exists():
        try:
            previous = json.loads(args.out.read_text())
        except ValueError:
            previous = {}
    keys = ("lifecycle", "latency_ms", "per_request", "growth", "scale", "slack_ack_ms")
    for key in (*keys, "revocation", "mass_expiry", "idle_latency"):
        if key not in results and key in previous:
            kept = previous[key]
            results[key] = {**kept, "from_earlier_run": previous.get("when")} if isinstance(kept, dict) else kept
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


if __name__ == "__main__":
    main()
