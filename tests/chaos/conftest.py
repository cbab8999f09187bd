"""Fault injection against real processes: the worker as `python -m worker` (so kill -9 is a real crash), the
Temporal dev server, and an embedded PostgreSQL whose roles are the ground truth of who holds access.

`GF_CHAOS_N` sets the requests per scenario: `make test` runs a short version, `make chaos` runs 100.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
import yaml
from temporalio.client import Client

from bench.stack import WorkerProcess, wait_for_poller
from grantflow.client import GrantflowClient, Submitted
from grantflow.dev.demo import ensure_demo_schema
from grantflow.dev.pgserver import PgServer
from grantflow.domain.config import ConfigSource
from grantflow.domain.models import AccessStatus, AuditEvent, StatusView
from grantflow.payloads.codec import new_key_entry
from grantflow.storage.store import Store
from grantflow.temporal import data_converter
from tests.conftest import TEST_CONFIG

T = TypeVar("T")
CHAOS_N = int(os.environ.get("GF_CHAOS_N", "12"))
DSN_ENV = "GF_CHAOS_PG_DSN"
GRANTEE = "erin@example.com"
ROLE_PATTERN = "gf\\_erin\\_%"


def write_config(folder: Path) -> Path:
    """The test catalog plus a PostgreSQL integration that seniors get without approval."""
    data = yaml.safe_load(TEST_CONFIG.read_text())
    data["integrations"].append(
        {
            "id": "pg",
            "type": "postgresql",
            "name": "Chaos PostgreSQL",
            "dsn_env": DSN_ENV,
            "resource_types": ["database"],
        }
    )
    data["access_flows"].append(
        {
            "id": "pg-auto",
            "name": "Seniors read orders",
            "requestors": ["group:seniors"],
            "grants": [
                {"integration": "pg", "resource_types": ["database"], "resources": ["orders"], "permissions": ["read"]}
            ],
            "approvals_required": 0,
            "max_duration": "1d",
            "default_duration": "1h",
            "justification_required": False,
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grantflow.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    if not (folder / "scripts").exists():
        (folder / "scripts").symlink_to(TEST_CONFIG.parent / "scripts")
    return path


@pytest.fixture(scope="module")
def chaos_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """A PostgreSQL of this module's own: one scenario stops and restarts it."""
    server = PgServer(Path(tmp_path_factory.mktemp("chaos-pg")) / "data", durable=False)
    server.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(DSN_ENV, server.admin_dsn)
            ensure_demo_schema(server.admin_dsn)
            yield server
    finally:
        server.stop()


@dataclass
class Chaos:
    """One grantflow deployment in pieces: worker processes that can be killed, a facade, the store."""

    address: str
    folder: Path
    env: dict[str, str]
    temporal: Client
    client: GrantflowClient
    pg: PgServer
    workers: list[WorkerProcess]

    async def start_worker(self) -> WorkerProcess:
        worker = WorkerProcess(self.env, self.folder / f"worker-{len(self.workers)}.log").start()
        self.workers.append(worker)
        await wait_for_poller(self.temporal, self.env["GRANTFLOW_TASK_QUEUE"])
        return worker

    def stop_workers(self) -> None:
        for w in self.workers:
            w.stop(timeout=10)

    async def submit(self, n: int, duration: str) -> list[Submitted]:
        spec = self.client.build_spec(
            requester=GRANTEE,
            integration="pg",
            resource_type="database",
            resources=["orders"],
            permission="read",
            duration=duration,
            source="chaos",
        )
        return list(await asyncio.gather(*(self.client.submit(spec) for _ in range(n))))

    async def statuses(self, subs: list[Submitted]) -> list[StatusView]:
        return list(await asyncio.gather(*(self.client.status(s.request_id) for s in subs)))

    async def wait_all(self, subs: list[Submitted], want: set[AccessStatus], timeout: float) -> list[StatusView]:
        views = await eventually(lambda: self.statuses(subs), lambda vs: all(v.status in want for v in vs), timeout)
        stuck = [f"{v.request_id}: {v.status.value} ({v.status_reason})" for v in views if v.status not in want]
        assert not stuck, f"{len(stuck)} requests never reached {sorted(want)}: {stuck[:5]}"
        return views

    def roles(self) -> dict[str, datetime | None]:
        """The grantflow roles of the chaos grantee that exist in PostgreSQL right now, with their VALID UNTIL."""
        with psycopg.connect(self.pg.admin_dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT rolname, rolvaliduntil FROM pg_roles WHERE rolname LIKE %s", (ROLE_PATTERN,)
            ).fetchall()
        return {str(name): until for name, until in rows}

    async def audit(self, request_id: str) -> list[AuditEvent]:
        return await self.client.audit(request_id=request_id)


async def make_chaos(address: str, folder: Path, pg: PgServer) -> AsyncIterator[Chaos]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state").mkdir(exist_ok=True)
    keys = new_key_entry("chaos")
    config_path = write_config(folder / "config")
    env = {
        "TEMPORAL_ADDRESS": address,
        "GRANTFLOW_TASK_QUEUE": f"chaos-{uuid.uuid4().hex[:8]}",
        "DATABASE_URL": f"sqlite:///{folder}/grantflow.db",
        "GRANTFLOW_CONFIG": str(config_path),
        "GRANTFLOW_STATE_DIR": str(folder / "state"),
        "GRANTFLOW_ENCRYPTION_KEYS": keys,
        "GRANTFLOW_LOG_LEVEL": "WARNING",
        DSN_ENV: pg.admin_dsn,
        "SLACK_BOT_TOKEN": "",
    }
    temporal = await Client.connect(address, data_converter=data_converter(keys))
    store = Store(env["DATABASE_URL"])
    store.create_all()
    client = GrantflowClient(temporal, ConfigSource(config_path), store, env["GRANTFLOW_TASK_QUEUE"])
    chaos = Chaos(address, folder, env, temporal, client, pg, [])
    try:
        yield chaos
    finally:
        chaos.stop_workers()


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float) -> T:
    """Poll until `ok(value)`, tolerating a server that is coming back; return the last value either way."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            value = await probe()
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)
            continue
        if ok(value) or loop.time() > deadline:
            return value
        await asyncio.sleep(0.3)


def role_names(subs: list[Submitted]) -> set[str]:
    from activities.integrations.postgresql import role_name

    return {role_name(GRANTEE, s.request_id) for s in subs}
