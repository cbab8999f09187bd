"""Hypothesis-generated signal and update payloads (random JSON, wrong types, huge strings) sent through the
Temporal client never fail a workflow task and never change a request that the policy protects."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError

from grantflow.client import GrantflowClient, Submitted
from grantflow.domain import policy
from grantflow.domain.config import ConfigSource
from grantflow.domain.models import (
    AccessStatus,
    ApprovePayload,
    ExtendPayload,
    GrantItem,
    RejectPayload,
    RequestSpec,
    RevokePayload,
)
from grantflow.settings import Settings
from grantflow.storage.store import Store
from grantflow.temporal import data_converter
from tests.chaos.conftest import CHAOS_N, eventually
from tests.conftest import TEST_CONFIG, DevServer
from worker import build_worker

MESSAGES = ("approve", "reject", "extend", "revoke")
KEYS = ("approver", "actor", "comment", "reason", "break_glass", "extra")
# Real people of the test catalog, so that payloads come close to legitimate ones (see must_be_refused).
PEOPLE = (
    "bob@example.com",
    "carol@example.com",
    "alice@example.com",
    "erin@example.com",
    "ops@example.com",
    "BOB@example.com ",
    "mallory@example.com",
    "dan@example.com",
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.text(min_size=3000, max_size=5000),
    st.sampled_from(PEOPLE),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
payloads = st.one_of(json_values, st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4))
PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    "approve": ApprovePayload,
    "reject": RejectPayload,
    "extend": ExtendPayload,
    "revoke": RevokePayload,
}
# Who has any right on the two targets (written out here, not asked of grantflow.domain.policy, which is under test):
# the pending request is alice's in read-folders (approvers bob and carol), the active one is erin's in the
# automatic auto-gamma flow (no approvers, no extensions); ops is an admin of both.
PRIVILEGED = {
    True: {"alice@example.com", "bob@example.com", "carol@example.com", "ops@example.com"},
    False: {"erin@example.com", "ops@example.com"},
}


CATALOG = ConfigSource(TEST_CONFIG).get()


def must_be_refused(name: str, payload: Any, pending: bool) -> bool:
    """True when the message cannot be legitimate: its payload is malformed, or it names someone without any
    right on the target. Anything else might be a real decision, which would rightly change the request."""
    try:
        parsed = PAYLOAD_MODELS[name].model_validate(payload)
    except ValidationError:
        return True
    who = str(getattr(parsed, "approver", None) or getattr(parsed, "actor", "")).strip().lower()
    return who not in PRIVILEGED[pending]


refusable = st.tuples(st.sampled_from(MESSAGES), payloads, st.booleans()).filter(lambda m: must_be_refused(*m))


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
    settings_ = Settings(
        TEMPORAL_ADDRESS=dev_server.address,
        GRANTFLOW_TASK_QUEUE=f"fuzz-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=f"sqlite:///{tmp}/gf.db",
        GRANTFLOW_STATE_DIR=str(tmp / "state"),
        GRANTFLOW_CONFIG=str(TEST_CONFIG),
    )
    temporal = await Client.connect(dev_server.address, data_converter=data_converter(""))
    config = ConfigSource(TEST_CONFIG)
    store = Store(settings_.database_url)
    worker = build_worker(temporal, settings_, config=config, store=store)
    client = GrantflowClient(temporal, config, store, settings_.task_queue)
    async with worker:
        pending = await client.submit(
            client.build_spec(
                requester="alice@example.com",
                integration="files",
                resource_type="folder",
                resources=["alpha"],
                permission="read",
                duration="1h",
                justification="fuzz",
            )
        )
        active = await client.submit(
            client.build_spec(
                requester="erin@example.com",
                integration="files",
                resource_type="folder",
                resources=["gamma"],
                permission="read",
                duration="1h",
            )
        )
        await client.wait_for(active.request_id, {AccessStatus.ACTIVE})
        yield Target(temporal, client, pending, active)
        for sub in (pending, active):
            await temporal.get_workflow_handle(sub.workflow_id).terminate("fuzz finished")


@settings(max_examples=300, deadline=None)
@given(message=refusable)
def test_the_fuzzer_draws_only_messages_the_policy_refuses(message: tuple[str, Any, bool]) -> None:
    """Cross-check must_be_refused against the real policy: a drawn message that the policy would accept
    would change the target, and the fuzz test below would then wrongly expect nothing to change."""
    name, payload, pending = message
    try:
        parsed: Any = PAYLOAD_MODELS[name].model_validate(payload)
    except ValidationError:
        return  # refused as malformed before any policy is asked
    spec = (
        RequestSpec(
            requester="alice@example.com",
            grantee="alice@example.com",
            items=[GrantItem(integration="files", resource_type="folder", resource="alpha", permission="read")],
            duration_seconds=3600,
            justification="fuzz",
        )
        if pending
        else RequestSpec(
            requester="erin@example.com",
            grantee="erin@example.com",
            items=[GrantItem(integration="files", resource_type="folder", resource="gamma", permission="read")],
            duration_seconds=3600,
        )
    )
    decision = policy.decide(CATALOG, spec)
    status = AccessStatus.PENDING_APPROVAL if pending else AccessStatus.ACTIVE
    why = {
        "approve": lambda p: policy.judge_approve(decision, spec, status, [], p.approver, p.break_glass, p.reason),
        "reject": lambda p: policy.judge_reject(decision, spec, status, p.approver),
        "extend": lambda p: policy.judge_extend(decision, spec, status, 0, p.actor),
        "revoke": lambda p: policy.judge_revoke(decision, spec, status, p.actor),
    }[name](parsed)
    assert why, f"{name} {payload!r} would be accepted on the {'pending' if pending else 'active'} request"


@settings(
    max_examples=max(20, CHAOS_N * 4),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(message=refusable, as_update=st.booleans())
@example(message=("approve", {"approver": "bob@example.com", "extra": 1}, True), as_update=True)
@example(message=("approve", {"approver": "alice@example.com"}, True), as_update=False)
@example(message=("revoke", {"actor": "mallory@example.com"}, False), as_update=True)
async def test_random_payloads_never_fail_a_workflow_task(
    target: Target, message: tuple[str, Any, bool], as_update: bool
) -> None:
    name, payload, pending = message
    sub = target.pending if pending else target.active
    handle = target.temporal.get_workflow_handle(sub.workflow_id)
    before = await handle.query("status")
    if as_update:
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(name, payload)
    else:
        await handle.signal(name, payload)
    view = await handle.query("status")
    assert view["status"] == ("PENDING_APPROVAL" if pending else "ACTIVE"), view
    # A refused message changes nothing but the status view's list of recently refused decisions.
    changed = {k for k in view if view[k] != before.get(k)}
    assert changed <= {"refused"}, f"a refused message changed {changed}"
    if "refused" in changed:
        assert view["refused"][-1]["action"] == name, view["refused"]


async def test_no_workflow_task_failed_after_fuzzing(target: Target) -> None:
    for sub in (target.pending, target.active):
        handle = target.temporal.get_workflow_handle(sub.workflow_id)
        rid = sub.request_id
        refused = await eventually(
            lambda: target.client.audit(request_id=rid),  # noqa: B023
            lambda events: any(e.outcome == "refused" for e in events),
            timeout=20,
        )
        assert any(e.outcome == "refused" for e in refused), "the refused signals were not audited"
        await eventually(handle.describe, lambda d: not d.raw_description.HasField("pending_workflow_task"), timeout=20)
        failed = [
            e async for e in handle.fetch_history_events() if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        ]
        assert failed == [], failed[0].workflow_task_failed_event_attributes
