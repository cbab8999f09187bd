"""A worker on the time-skipping server with the test catalog, a fresh SQLite store and a recording notifier."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from grantflow.client import GrantflowClient, Submitted
from grantflow.domain.config import ConfigSource
from grantflow.domain.models import RequestSpec, Transition
from grantflow.settings import Settings
from grantflow.storage.store import Store
from tests.conftest import TEST_CONFIG
from worker import build_worker


@dataclass
class RecordingNotifier:
    transitions: list[Transition] = field(default_factory=list)

    async def notify(self, transitions: list[Transition]) -> None:
        self.transitions.extend(transitions)

    def kinds(self, request_id: str) -> list[str]:
        return [t.kind for t in self.transitions if t.status.request_id == request_id]


@dataclass
class Harness:
    env: WorkflowEnvironment
    client: GrantflowClient
    store: Store
    notifier: RecordingNotifier
    state_dir: Path
    worker: Worker

    def calls(self) -> list[str]:
        log = self.state_dir / "calls.log"
        return log.read_text().splitlines() if log.exists() else []


async def make_harness(
    env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, config_path: Path = TEST_CONFIG
) -> AsyncIterator[Harness]:
    settings = Settings(
        GRANTFLOW_TASK_QUEUE=f"tq-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=f"sqlite:///{tmp_path}/gf.db",
        GRANTFLOW_STATE_DIR=str(state_dir),
        GRANTFLOW_CONFIG=str(config_path),
    )
    config = ConfigSource(config_path)
    store = Store(settings.database_url)
    notifier = RecordingNotifier()
    worker = build_worker(env.client, settings, config=config, store=store, notifier=notifier)
    client = GrantflowClient(env.client, config, store, settings.task_queue)
    started: list[str] = []
    submit = client.submit

    async def tracking_submit(spec: RequestSpec, idempotency_key: str | None = None) -> Submitted:
        sub = await submit(spec, idempotency_key)
        started.append(sub.workflow_id)
        return sub

    client.submit = tracking_submit  # type: ignore[method-assign]
    async with worker:
        yield Harness(env, client, store, notifier, state_dir, worker)
        # The time-skipping server will not skip time while a workflow task waits for a worker that is
        # gone, so nothing of this test may outlive it.
        for wid in started:
            with contextlib.suppress(RPCError):
                await env.client.get_workflow_handle(wid).terminate("test finished")


@pytest.fixture()
async def h(time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path) -> AsyncIterator[Harness]:
    async for harness in make_harness(time_env, tmp_path, state_dir):
        yield harness


def config_with(folder: Path, flow_id: str, **changes: object) -> Path:
    """A copy of the test catalog with some fields of one flow changed (scripts resolve as in the original)."""
    import yaml

    data = yaml.safe_load(TEST_CONFIG.read_text())
    flow = next(f for f in data["access_flows"] if f["id"] == flow_id)
    flow.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grantflow.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    if not (folder / "scripts").exists():
        (folder / "scripts").symlink_to(TEST_CONFIG.parent / "scripts")
    return path


async def skip(h: Harness, seconds: float) -> None:
    """Advance the time-skipping server's clock, then let the worker catch up."""
    await h.env.sleep(seconds)


async def settle(h: Harness, request_id: str, want: set[str], *, max_skip: float = 0, timeout: float = 20) -> dict:
    """Wait (skipping up to `max_skip` seconds of workflow time) until the status is one of `want`."""
    import asyncio

    handle = h.env.client.get_workflow_handle(f"access-request-{request_id}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    skipped = 0.0
    while True:
        view = await handle.query("status")
        # A request is PENDING_APPROVAL from its start, but its approvers are known once the policy is decided.
        if view["status"] in want and (view["status"] != "PENDING_APPROVAL" or view["flow_id"]):
            return view
        if loop.time() > deadline:
            raise AssertionError(f"status stayed {view['status']} ({view['status_reason']}), wanted {want}")
        if max_skip and skipped < max_skip:
            step = min(600.0, max_skip - skipped)
            await h.env.sleep(step)
            skipped += step
        else:
            await asyncio.sleep(0.1)


async def published(h: Harness, request_id: str, kind: str, timeout: float = 10) -> None:
    """Wait until the notifier has seen a transition of `kind` (publishing is asynchronous)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while kind not in h.notifier.kinds(request_id):
        if loop.time() > deadline:
            raise AssertionError(f"{kind} never published; saw {h.notifier.kinds(request_id)}")
        await asyncio.sleep(0.05)


async def record_history(h: Harness, request_id: str, name: str, description: str = "") -> None:
    """Keep this run's history in the current release's corpus when tests/workflows/histories/RECORD exists
    (the corpus proper is recorded by `make histories`, see tests/workflows/scenarios.py)."""
    from tests.workflows.corpus import HISTORY_ROOT, RECORD_FLAG, current_release, save_history

    if RECORD_FLAG.exists():
        history = await h.env.client.get_workflow_handle(f"access-request-{request_id}").fetch_history()
        save_history(
            HISTORY_ROOT / current_release(),
            name,
            history.to_json(),
            description or f"recorded by the test that calls record_history({name!r})",
        )
