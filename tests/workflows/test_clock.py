"""When access starts (issue 14, docs/contract.md "When access starts and ends"): the person gets the approved
duration counted from when the grant took effect, and the target's own expiry is moved to match.

On the time-skipping server with the script integration: its `slow` folder sleeps GF_TEST_SLOW_GRANT_SECONDS
in the grant command (listed in the catalog's `env:` so that the command sees it), and the target file keeps
the `expires_at` the command was given last (grant or extend).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from tests.conftest import TEST_CONFIG
from tests.workflows.conftest import make_harness, settle

GRANT_SECONDS = 30


def _slow_catalog(folder: Path) -> Path:
    data = yaml.safe_load(TEST_CONFIG.read_text())
    data["integrations"][0]["env"] = ["GF_TEST_SLOW_GRANT_SECONDS"]
    data["integrations"][0]["timeout"] = f"{GRANT_SECONDS * 2}s"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scripts").symlink_to(TEST_CONFIG.parent / "scripts")
    path = folder / "grantflow.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def test_a_30s_grant_of_a_1h_request_ends_1h_after_it_took_effect(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GF_TEST_SLOW_GRANT_SECONDS", str(GRANT_SECONDS))
    async for h in make_harness(time_env, tmp_path, state_dir, _slow_catalog(tmp_path / "catalog")):
        spec = h.client.build_spec(
            requester="alice@example.com",
            integration="files",
            resource_type="folder",
            resources=["slow"],
            permission="read",
            duration="1h",
            justification="investigating an incident",
        )
        rid = (await h.client.submit(spec)).request_id
        await settle(h, rid, {"PENDING_APPROVAL"})
        await h.client.approve(rid, "bob@example.com", "ok")
        view = await settle(h, rid, {"ACTIVE"}, timeout=GRANT_SECONDS + 60)
        expires_at = datetime.fromisoformat(view["expires_at"])
        # The grant activity's run, on the server's clock (history).
        started = completed = None
        async for e in h.env.client.get_workflow_handle(f"access-request-{rid}").fetch_history_events():
            t = e.event_time.ToDatetime().astimezone()
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED and started is None:
                started = t
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED and completed is None:
                completed = t
        assert started is not None and completed is not None
        assert completed - started >= timedelta(seconds=GRANT_SECONDS - 1), "the grant really took its time"
        # The clock started when the grant had taken effect, not when GRANTING began: the 30 s are not lost.
        took_effect = expires_at - timedelta(hours=1)
        assert started + timedelta(seconds=GRANT_SECONDS - 1) <= took_effect <= completed + timedelta(seconds=1)
        assert expires_at - datetime.fromisoformat(view["granted_at"]) >= timedelta(hours=1, seconds=GRANT_SECONDS - 1)
        # The target's own expiry is the request's.
        target = h.state_dir / "files" / "slow" / f"alice@example.com.{rid}"
        assert datetime.fromisoformat(json.loads(target.read_text())["expires_at"]) == expires_at
        calls = [c.split() for c in h.calls()]
        assert [c[0] for c in calls] == ["grant", "extend"], "one extend call moved the target's expiry"
        assert datetime.fromisoformat(calls[-1][-1]) == expires_at
        # And the request ends then: the expiry timer is counted from the same moment.
        ended = await settle(h, rid, {"EXPIRED"}, max_skip=2 * 3600, timeout=60)
        assert datetime.fromisoformat(ended["ended_at"]) >= expires_at
