"""No local activity in a new request's history (workflows/steps.py says why): the submission's proof check,
the policy decision, each decision's proof check, the start-time eligibility check and every publish run as
regular activities, and the history replays. A history begun before the change keeps its local activities
(the recorded corpus, tests/workflows/test_replay.py, proves those still replay)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from grantflow.domain.proofs import Signer
from grantflow.temporal import data_converter
from tests.conftest import TEST_DECISION_KEYS
from tests.workflows.conftest import Harness, make_harness, settle
from tests.workflows.test_lifecycle import spec
from tests.workflows.test_verified_decisions import KEYS, verified_config
from worker import ALL_WORKFLOWS, sandbox_runner
from workflows.steps import REMOTE_STEPS_PATCH


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


async def replays(h: Harness, history: WorkflowHistory) -> None:
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
    await replays(h, history)
