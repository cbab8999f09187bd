"""No local activity in a new request's history (workflows/steps.py says why): the submission's proof check,
the policy decision, each decision's proof check, the start-time eligibility check and every publish run as
regular activities, and the history replays. A history begun before the change keeps its local activities
(the recorded corpus, tests/workflows/test_replay.py, proves those still replay)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

import worker as worker_module
from grantflow.client import GrantflowClient
from grantflow.domain.config import ConfigSource
from grantflow.domain.models import AccessStatus
from grantflow.domain.proofs import Signer
from grantflow.settings import Settings
from grantflow.storage.store import Store
from grantflow.temporal import data_converter
from tests.conftest import TEST_DECISION_KEYS
from tests.workflows.conftest import Harness, RecordingNotifier, make_harness, settle
from tests.workflows.test_lifecycle import spec
from tests.workflows.test_verified_decisions import KEYS, verified_config
from worker import ALL_WORKFLOWS, build_worker, sandbox_runner
from workflows.steps import REMOTE_STEPS_PATCH, Steps


@pytest.fixture()
async def hv(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    monkeypatch.setenv("GRANTFLOW_DECISION_KEYS", TEST_DECISION_KEYS)
    async for h in make_harness(time_env, tmp_path, state_dir, verified_config(tmp_path / "config")):
        h.client.signer = Signer(KEYS, "cli")
        yield h


def activity_types(history: WorkflowHistory) -> tuple[list[str], int, list[str]]:
    """(activity types scheduled, local activity markers, patch ids recorded) of one history."""
    scheduled, local, patches = [], 0, []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled.append(e.activity_task_scheduled_event_attributes.activity_type.name)
        elif e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = e.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":
                local += 1
            elif marker.marker_name == "core_patch":
                patches.append(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
    return scheduled, local, patches


async def replays(history: WorkflowHistory) -> None:
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=data_converter(""), workflow_runner=sandbox_runner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, str(result.replay_failure)


async def test_a_scheduled_verified_request_runs_no_local_activity(hv: Harness) -> None:
    h = hv
    now = (await h.env.get_current_time()).astimezone(UTC)
    s = spec(h, requester="dan@example.com").model_copy(update={"start_at": now + timedelta(hours=1)})
    rid = (await h.client.submit(s)).request_id
    await settle(h, rid, {"PENDING_APPROVAL"})
    await h.client.approve(rid, "bob@example.com")
    await settle(h, rid, {"SCHEDULED"})
    await settle(h, rid, {"ACTIVE"}, max_skip=2 * 3600)
    await h.client.revoke(rid, "dan@example.com", "done")
    view = await settle(h, rid, {"REVOKED"})
    assert view["approvals"][0]["verified"] is True
    history = await h.env.client.get_workflow_handle(f"access-request-{rid}").fetch_history()
    scheduled, local, patches = activity_types(history)
    assert local == 0, f"{local} local activities in a new history"
    assert REMOTE_STEPS_PATCH in patches
    # Each short step ran, as a regular activity: submission, approve and revoke proofs, the policy, the
    # start-time check, the grant, the revoke and the publishes.
    assert scheduled.count("verify_decision") == 3, scheduled
    for name in ("resolve_policy", "still_eligible", "grant_item", "revoke_item", "publish_transitions"):
        assert name in scheduled, (name, scheduled)
    await replays(history)


async def test_a_request_begun_with_local_steps_runs_its_later_steps_as_regular_activities(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request in flight across the upgrade: begun by a worker without the patch (its steps local, as v0.3.0
    recorded them), it is decided on this worker, whose later steps (the approval's and the revoke's proof
    checks, the publishes) are regular activities, each behind its own patch; the whole history replays."""
    monkeypatch.setenv("GRANTFLOW_DECISION_KEYS", TEST_DECISION_KEYS)
    config_path = verified_config(tmp_path / "config")
    settings = Settings(
        GRANTFLOW_TASK_QUEUE=f"tq-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=f"sqlite:///{tmp_path}/gf.db",
        GRANTFLOW_STATE_DIR=str(state_dir),
        GRANTFLOW_CONFIG=str(config_path),
    )
    config, store = ConfigSource(config_path), Store(settings.database_url)
    client = GrantflowClient(time_env.client, config, store, settings.task_queue, signer=Signer(KEYS, "cli"))

    def worker(cached: int = 500) -> Worker:
        # The first worker caches nothing: no sticky queue left behind that the next task would wait out.
        s = settings.model_copy(update={"max_cached_workflows": cached})
        return build_worker(time_env.client, s, config=config, store=store, notifier=RecordingNotifier())

    with monkeypatch.context() as before:
        # The worker of the release before: no patch asked, every step a local activity (outside the sandbox,
        # so that the replaced methods are the ones the workflow runs).
        before.setattr(Steps, "start", lambda self: None)
        before.setattr(Steps, "remote_now", lambda self: False)
        before.setattr(worker_module, "sandbox_runner", UnsandboxedWorkflowRunner)
        async with worker(cached=0):
            s = client.build_spec(
                requester="dan@example.com",
                integration="files",
                resource_type="folder",
                resources=["alpha"],
                permission="read",
                duration="1h",
                justification="across the upgrade",
            )
            rid = (await client.submit(s)).request_id
            await client.decided(rid)
    handle = time_env.client.get_workflow_handle(f"access-request-{rid}")
    begun = activity_types(await handle.fetch_history())
    assert begun[1] >= 3 and begun[0] == [], begun  # submission proof, policy, publish: all local

    async with worker():
        await client.approve(rid, "bob@example.com")
        assert (await client.wait_for(rid, {AccessStatus.ACTIVE}, timeout=60)).status == AccessStatus.ACTIVE
        await client.revoke(rid, "dan@example.com", "done")
        view = await client.wait_for(rid, {AccessStatus.REVOKED}, timeout=60)
        assert view.status == AccessStatus.REVOKED and view.approvals[0].verified is True
    history = await handle.fetch_history()
    scheduled, local, patches = activity_types(history)
    assert local == begun[1], "a step after the upgrade ran as a local activity"
    assert scheduled.count("verify_decision") == 2, scheduled  # the approval's and the revoke's proofs
    assert "publish_transitions" in scheduled, scheduled
    assert REMOTE_STEPS_PATCH not in patches
    assert any(p.startswith(f"{REMOTE_STEPS_PATCH}-") for p in patches), patches
    await replays(history)
