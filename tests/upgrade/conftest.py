"""Real processes for the upgrade test: the previous release in a venv of its own, its worker and CLI, the
current worker, a Temporal dev server and an embedded PostgreSQL.

The previous release is taken from this repository's own history (`git archive <commit>`, see releases.py)
and installed with pip into `.grantflow/releases/<version>-<commit>-py<ver>/venv`, which later runs reuse.
Its worker runs outside the checkout (cwd is a scratch folder, PYTHONPATH is dropped), so it imports the
release's code and nothing of this checkout.

A `Lane` is one deployment: its own task queue, config, store, target folders and workers. Each lane gets
the same requests; the test stops one lane's old worker with SIGTERM and the other's with kill -9.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle

from grantflow.dev.demo import ensure_demo_schema
from grantflow.dev.launcher import DevServer
from grantflow.dev.pgserver import PgServer
from grantflow.domain.models import AuditEvent, StatusView
from grantflow.payloads.codec import new_key_entry
from grantflow.status_read import read_status
from grantflow.storage.store import Store
from grantflow.temporal import data_converter
from tests.upgrade.releases import PREVIOUS_RELEASE, Release

ROOT = Path(__file__).resolve().parents[2]
RELEASE_CACHE = ROOT / ".grantflow" / "releases"
TARGET_SCRIPT = Path(__file__).resolve().parent / "target.py"
PG_DSN_ENV = "GF_UPGRADE_PG_DSN"
# What a worker or CLI of either version gets from this process's environment; the rest is the lane's.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PIP_CACHE_DIR")

# Who is who in the test config: every request's grantee is its requester.
APPROVER = "bob@example.com"
ADMIN = "ops@example.com"
PENDING_REQUESTER = "alice@example.com"  # files/plain, one approval by bob
AUTO_REQUESTER = "erin@example.com"  # files/slow and files/flaky, automatic approval
PG_REQUESTER = "frank@example.com"  # PostgreSQL orders, automatic approval, expiry reminder

# The active request's timing: the reminder fires this long after the grant, the expiry as long again.
PG_DURATION = "60s"
PG_NOTIFY_BEFORE = "30s"


# --- the previous release, installed from git ----------------------------------------------------------


@dataclass(frozen=True)
class InstalledRelease:
    release: Release
    venv: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def cli(self) -> str:
        return str(self.venv / "bin" / "grantflow")


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False)


def install_release(release: Release) -> InstalledRelease:
    """The release's source from this repository's history, pip-installed into a venv of its own."""
    tag = f"{release.version}-{release.commit[:12]}-py{sys.version_info.major}{sys.version_info.minor}"
    home = RELEASE_CACHE / tag
    installed = InstalledRelease(release, home / "venv")
    stamp = home / "installed"
    if stamp.is_file() and stamp.read_text().strip() == release.commit:
        return installed
    if _git("cat-file", "-e", f"{release.commit}^{{commit}}").returncode != 0:
        raise RuntimeError(
            f"commit {release.commit} ({release.version}) is not in this clone's history: "
            "fetch it (`git fetch --unshallow` or `git fetch origin main`) to run the upgrade test"
        )
    shutil.rmtree(home, ignore_errors=True)
    src = home / "src"
    src.mkdir(parents=True)
    archive = _git("archive", "--format=tar", release.commit)
    if archive.returncode != 0:
        raise RuntimeError(f"git archive {release.commit} failed: {archive.stderr.decode(errors='replace')}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(src, filter="data")
    log = home / "install.log"
    with log.open("wb") as out:
        for cmd in (
            [sys.executable, "-m", "venv", str(installed.venv)],
            [installed.python, "-m", "pip", "install", "--disable-pip-version-check", str(src)],
        ):
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=_base_env(), check=False).returncode:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"installing {release.version} failed ({' '.join(cmd)}):\n{tail}")
    # The release must run its own code, not this checkout's.
    where = subprocess.run(
        [installed.python, "-c", "import workflows.access_request as m, grantflow; print(m.__file__)"],
        capture_output=True,
        text=True,
        cwd=home,
        env=_base_env(),
        check=True,
    ).stdout.strip()
    assert str(installed.venv) in where, f"{release.version} imports its workflow from {where}"
    stamp.write_text(release.commit + "\n")
    return installed


@pytest.fixture(scope="session")
def previous_release() -> InstalledRelease:
    started = time.monotonic()
    installed = install_release(PREVIOUS_RELEASE)
    print(
        f"\n[upgrade] {PREVIOUS_RELEASE.version} ({PREVIOUS_RELEASE.commit[:12]}) ready in "
        f"{time.monotonic() - started:.1f}s at {installed.venv}"
    )
    return installed


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in INHERITED_ENV}


# --- a PostgreSQL of the test's own ------------------------------------------------------------------


@pytest.fixture(scope="module")
def upgrade_dir() -> Iterator[Path]:
    """The test's scratch folder, outside pytest's numbered temp folders: on a machine shared by several
    pytest sessions those are rotated away under a running test. GF_UPGRADE_KEEP=1 keeps it."""
    path = Path(tempfile.mkdtemp(prefix="gf-upgrade-"))
    try:
        yield path
    finally:
        if os.environ.get("GF_UPGRADE_KEEP") == "1":
            print(f"\n[upgrade] kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def upgrade_pg(upgrade_dir: Path) -> Iterator[PgServer]:
    server = PgServer(upgrade_dir / "pg" / "data", durable=False)
    server.start()
    try:
        ensure_demo_schema(server.admin_dsn)
        yield server
    finally:
        server.stop()


def pg_roles(pg: PgServer) -> set[str]:
    with psycopg.connect(pg.admin_dsn, autocommit=True) as conn:
        return {str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'")}


# --- worker processes ------------------------------------------------------------------------------------


@dataclass
class WorkerProc:
    """`python -m worker` of one version, in its own process group (so a crash takes its scripts too)."""

    label: str
    python: str
    cwd: Path
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProc:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.python, "-m", "worker"],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def sigterm(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def kill9(self) -> None:
        """SIGKILL to the whole group, as when the machine or container dies."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# --- one deployment --------------------------------------------------------------------------------------


def write_config(folder: Path, targets: Path, controls: Path) -> Path:
    """A config that v0.1.0 accepts and the current code too: script argv carries every path (scripts get no
    environment of ours), approval reminders are left at their default, grantee == requester throughout."""

    def script(action: str) -> list[str]:
        return [
            sys.executable,
            str(TARGET_SCRIPT),
            action,
            str(targets),
            str(controls),
            "{grantee}",
            "{resource}",
            "{permission}",
            "{request_id}",
        ]

    data: dict[str, Any] = {
        "admins": [f"user:{ADMIN}"],
        "integrations": [
            {
                "id": "files",
                "type": "script",
                "name": "Upgrade test folders",
                "resource_types": [{"id": "folder", "resources": ["plain", "slow", "flaky"], "permissions": ["read"]}],
                "grant": script("grant"),
                "revoke": script("revoke"),
                "timeout": "5m",
            },
            {
                "id": "pg",
                "type": "postgresql",
                "name": "Upgrade test PostgreSQL",
                "dsn_env": PG_DSN_ENV,
                "resource_types": ["database"],
            },
        ],
        "access_flows": [
            {
                "id": "approved-files",
                "name": "Plain folder, approved by bob",
                "requestors": [f"user:{PENDING_REQUESTER}"],
                "grants": [
                    {
                        "integration": "files",
                        "resource_types": ["folder"],
                        "resources": ["plain"],
                        "permissions": ["read"],
                    }
                ],
                "approvers": [f"user:{APPROVER}"],
                "approvals_required": 1,
                "max_duration": "8h",
                "default_duration": "1h",
                "justification_required": True,
            },
            {
                "id": "auto-files",
                "name": "Slow and flaky folders, automatic",
                "requestors": [f"user:{AUTO_REQUESTER}"],
                "grants": [
                    {
                        "integration": "files",
                        "resource_types": ["folder"],
                        "resources": ["slow", "flaky"],
                        "permissions": ["read"],
                    }
                ],
                "approvals_required": 0,
                "max_duration": "8h",
                "default_duration": "1h",
                "justification_required": False,
            },
            {
                "id": "auto-pg",
                "name": "Orders for frank, automatic, with an extension offer",
                "requestors": [f"user:{PG_REQUESTER}"],
                "grants": [
                    {
                        "integration": "pg",
                        "resource_types": ["database"],
                        "resources": ["orders"],
                        "permissions": ["read"],
                    }
                ],
                "approvals_required": 0,
                "max_duration": "1h",
                "default_duration": PG_DURATION,
                "justification_required": False,
                "extension": {
                    "enabled": True,
                    "max_extensions": 1,
                    "duration": "1m",
                    "notify_before": PG_NOTIFY_BEFORE,
                },
            },
        ],
    }
    path = folder / "grantflow.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class Lane:
    name: str
    folder: Path
    env: dict[str, str]
    targets: Path
    controls: Path
    temporal: Client
    store: Store
    release: InstalledRelease
    workers: list[WorkerProc] = field(default_factory=list)

    @property
    def task_queue(self) -> str:
        return self.env["GRANTFLOW_TASK_QUEUE"]

    # workers

    async def start_worker(self, label: str, python: str, cwd: Path) -> WorkerProc:
        w = WorkerProc(label, python, cwd, self.env, self.folder / f"worker-{label}.log").start()
        self.workers.append(w)
        await self.wait_for_poller(w)
        return w

    async def start_old_worker(self) -> WorkerProc:
        return await self.start_worker("old", self.release.python, self.folder)

    async def start_new_worker(self) -> WorkerProc:
        return await self.start_worker("new", sys.executable, ROOT)

    async def wait_for_poller(self, w: WorkerProc, timeout: float = 90) -> None:
        """Until this very process polls the task queue (a stopped worker stays listed for a while)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not w.alive():
                raise AssertionError(f"{self.name}: {w.label} worker exited:\n{w.log_text()[-3000:]}")
            resp = await self.temporal.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.temporal.namespace,
                    task_queue=TaskQueue(name=self.task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
            if any(p.identity.startswith(f"{w.pid}@") for p in resp.pollers):
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name}: the {w.label} worker did not poll within {timeout:.0f}s")

    def stop_all(self) -> None:
        for w in self.workers:
            w.kill9()

    # the previous release's CLI

    async def old_cli(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            self.release.cli,
            *args,
            cwd=self.folder,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        except BaseException:  # timed out or cancelled: leave no CLI behind
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            raise AssertionError(
                f"{self.release.release.version} grantflow {' '.join(args)} exited "
                f"{proc.returncode}: {err.decode(errors='replace')}"
            )
        return out.decode()

    async def old_request(
        self, requester: str, integration: str, resource_type: str, resource: str, duration: str
    ) -> str:
        out = await self.old_cli(
            "request",
            "--as",
            requester,
            "--integration",
            integration,
            "--resource-type",
            resource_type,
            "--resource",
            resource,
            "--permission",
            "read",
            "--duration",
            duration,
            "--justification",
            f"upgrade test ({self.name})",
            "--json",
        )
        return str(json.loads(out)["request_id"])

    # raw Temporal calls that every version understands (docs/contract.md, "Temporal")

    def handle(self, request_id: str) -> WorkflowHandle[Any, Any]:
        return self.temporal.get_workflow_handle(f"access-request-{request_id}")

    async def status(self, request_id: str) -> dict[str, Any]:
        """As the doors ask (GrantflowClient.status, grantflow/status_read.py): an ended run from its result or
        the request index, the index while a workflow task waits on a dead worker, else the workflow's query.
        A raw query in those windows meets the SDK problem `make sdk-hazards` reproduces (CHANGELOG.md)."""

        def from_index() -> Awaitable[StatusView | None]:
            return asyncio.to_thread(self.store.get_request, request_id)

        return (await read_status(self.handle(request_id), from_index)).model_dump(mode="json")

    async def update(self, request_id: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.handle(request_id).execute_update(name, payload))

    async def task_failures(self, request_id: str) -> list[str]:
        """The workflow task failures in a request's history (nondeterminism shows here)."""
        out = []
        async for e in self.handle(request_id).fetch_history_events():
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                attrs = e.workflow_task_failed_event_attributes
                out.append(f"{attrs.cause}: {attrs.failure.message}")
        return out

    async def save_history(self, request_id: str) -> Path:
        """The request's history as `temporal workflow show -o json` writes it, kept for replay by hand."""
        history = await self.handle(request_id).fetch_history()
        path = self.folder / f"history-{request_id}.json"
        path.write_text(history.to_json())
        # The lane's throwaway key beside it: replaying needs it to decode the payloads.
        (self.folder / "encryption.keys").write_text(self.env["GRANTFLOW_ENCRYPTION_KEYS"])
        return path

    # the store and the target

    def audit(self, request_id: str) -> list[AuditEvent]:
        return self.store.audit(request_id=request_id)

    def indexed(self, request_id: str) -> StatusView | None:
        return self.store.get_request(request_id)

    def access_files(self) -> list[Path]:
        return sorted(p for p in self.targets.glob("*/*") if p.is_file())

    def calls(self) -> list[dict[str, str]]:
        log = self.targets / "calls.log"
        rows = []
        for line in log.read_text().splitlines() if log.exists() else []:
            action, request_id, resource, outcome, worker = line.split()
            rows.append(
                {
                    "action": action,
                    "request_id": request_id,
                    "resource": resource,
                    "outcome": outcome,
                    "worker": worker.removeprefix("worker="),
                }
            )
        return rows

    def control(self, name: str, on: bool) -> None:
        path = self.controls / name
        if on:
            path.touch()
        else:
            path.unlink(missing_ok=True)


async def make_lane(name: str, folder: Path, address: str, pg: PgServer, release: InstalledRelease) -> Lane:
    targets, controls = folder / "targets", folder / "controls"
    for d in (folder, targets, controls, folder / "state"):
        d.mkdir(parents=True, exist_ok=True)
    keys = new_key_entry(f"upgrade-{name}")
    env = {
        **_base_env(),
        "TEMPORAL_ADDRESS": address,
        "GRANTFLOW_TASK_QUEUE": f"upgrade-{name}-{uuid.uuid4().hex[:8]}",
        "DATABASE_URL": f"sqlite:///{folder}/grantflow.db",
        "GRANTFLOW_CONFIG": str(write_config(folder, targets, controls)),
        "GRANTFLOW_STATE_DIR": str(folder / "state"),
        "GRANTFLOW_ENCRYPTION_KEYS": keys,
        "GRANTFLOW_LOG_LEVEL": "WARNING",
        "GRANTFLOW_LOG_FORMAT": "console",
        "SLACK_BOT_TOKEN": "",
        PG_DSN_ENV: pg.admin_dsn,
    }
    temporal = await Client.connect(address, data_converter=data_converter(keys))
    return Lane(name, folder, env, targets, controls, temporal, Store(env["DATABASE_URL"]), release)


@pytest.fixture()
async def lanes(
    dev_server: DevServer, upgrade_pg: PgServer, previous_release: InstalledRelease, upgrade_dir: Path
) -> AsyncIterator[dict[str, Lane]]:
    made: dict[str, Lane] = {}
    run = Path(tempfile.mkdtemp(prefix="run-", dir=upgrade_dir))
    try:
        for name in ("sigterm", "kill9"):
            made[name] = await make_lane(name, run / name, dev_server.address, upgrade_pg, previous_release)
        yield made
    finally:
        for lane in made.values():
            lane.stop_all()


NONDETERMINISM = re.compile(r"nondetermin", re.IGNORECASE)
