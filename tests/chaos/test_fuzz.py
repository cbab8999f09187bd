"""Hypothesis-generated signal and update payloads (random JSON, wrong types, huge strings) sent through the
Temporal client never fail a workflow task and never change a request that the policy protects."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError

from grantflow.client import GrantflowClient, Submitted
from grantflow.config import ConfigSource
from grantflow.models import AccessStatus
from grantflow.settings import Settings
from grantflow.store import Store
from grantflow.temporal import data_converter
from tests.chaos.conftest import CHAOS_N, eventually
from tests.conftest import TEST_CONFIG, DevServer
from worker import build_worker

MESSAGES = ("approve", "reject", "extend", "revoke")
KEYS = ("approver", "actor", "comment", "reason", "break_glass", "extra")
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(max_size=40), st.text(min_size=3000, max_size=5000), st.just("bob@example.com"),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
payloads = st.one_of(json_values, st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4))


class Target:
    def __init__(self, temporal: Client, client: GrantflowClient, pending: Submitted, active: Submitted):
        self.temporal = temporal
        self.client = client
        self.pending = pending
        self.active = active


@pytest.fixture(scope="module")
async def target(dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Target]:
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "state").mkdir()
    settings_ = Settings(TEMPORAL_ADDRESS=dev_server.address, GRANTFLOW_TASK_QUEUE=f"fuzz-{uuid.uuid4().hex[:8]}",
                         DATABASE_URL=f"sqlite:///{tmp}/gf.db", GRANTFLOW_STATE_DIR=str(tmp / "state"),
                         GRANTFLOW_CONFIG=str(TEST_CONFIG))
    temporal = await Client.connect(dev_server.address, data_converter=data_converter(""))
    config = ConfigSource(TEST_CONFIG)
    store = Store(settings_.database_url)
    worker = build_worker(temporal, settings_, config=config, store=store)
    client = GrantflowClient(temporal, config, store, settings_.task_queue)
    async with worker:
        pending = await client.submit(client.build_spec(
            requester="alice@example.com", integration="files", resource_type="folder", resources=["alpha"],
            permission="read", duration="1h", justification="fuzz"))
        active = await client.submit(client.build_spec(
            requester="erin@example.com", integration="files", resource_type="folder", resources=["gamma"],
            permission="read", duration="1h"))
        await client.wait_for(active.request_id, {AccessStatus.ACTIVE})
        yield Target(temporal, client, pending, active)
        for sub in (pending, active):
            await temporal.get_workflow_handle(sub.workflow_id).terminate("fuzz finished")


@settings(max_examples=max(20, CHAOS_N * 4), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(MESSAGES), payload=payloads, as_update=st.booleans(), pending=st.booleans())
async def test_random_payloads_never_fail_a_workflow_task(
        target: Target, name: str, payload: Any, as_update: bool, pending: bool) -> None:
    sub = target.pending if pending else target.active
    handle = target.temporal.get_workflow_handle(sub.workflow_id)
    if as_update:
        with contextlib.suppress(WorkflowUpdateFailedError):
            await handle.execute_update(name, payload)
    else:
        await handle.signal(name, payload)
    view = await handle.query("status")
    assert view["status"] == ("PENDING_APPROVAL" if pending else "ACTIVE"), view


async def test_no_workflow_task_failed_after_fuzzing(target: Target) -> None:
    for sub in (target.pending, target.active):
        handle = target.temporal.get_workflow_handle(sub.workflow_id)
        rid = sub.request_id
        refused = await eventually(lambda: target.client.audit(request_id=rid),  # noqa: B023
                                   lambda events: any(e.outcome == "refused" for e in events), timeout=20)
        assert any(e.outcome == "refused" for e in refused), "the refused signals were not audited"
        await eventually(handle.describe, lambda d: not d.raw_description.HasField("pending_workflow_task"),
                         timeout=20)
        failed = [e async for e in handle.fetch_history_events()
                  if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        assert failed == [], failed[0].workflow_task_failed_event_attributes
