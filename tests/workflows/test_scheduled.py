"""Scheduled start on the time-skipping server: approved before its start, a request waits as SCHEDULED, is
granted at the start (not before) with the duration counted from the grant, can be withdrawn meanwhile, and
is refused at the start when its requester has left the flow since. A start in the past or too far ahead is
refused by the workflow itself (a request started straight through the Temporal API) and by the front door."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from grantflow.client import BadRequest
from grantflow.domain.models import RequestSpec
from tests.workflows.conftest import Harness, config_with, make_harness, settle, skip
from tests.workflows.scenarios import signal, spec


async def env_now(h: Harness) -> datetime:
    return (await h.env.get_current_time()).astimezone(UTC)


async def scheduled_spec(h: Harness, after: timedelta, requester: str = "dan@example.com") -> RequestSpec:
    return spec(h, requester=requester, duration="1h").model_copy(update={"start_at": await env_now(h) + after})


def granted(h: Harness, rid: str) -> bool:
    return any(line.startswith("grant") and rid in line for line in h.calls())


async def test_a_scheduled_request_is_granted_at_its_start_not_before(h: Harness) -> None:
    s = await scheduled_spec(h, timedelta(hours=2))
    rid = (await h.client.submit(s)).request_id
    await settle(h, rid, {"PENDING_APPROVAL"})
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    view = await settle(h, rid, {"SCHEDULED"})
    assert view["start_at"] is not None and "access starts at" in view["status_reason"]
    assert view["granted_at"] is None and not granted(h, rid)
    await skip(h, 3600)
    view = await settle(h, rid, {"SCHEDULED"})
    assert not granted(h, rid)
    view = await settle(h, rid, {"ACTIVE"}, max_skip=2 * 3600)
    start = datetime.fromisoformat(view["start_at"])
    granted_at = datetime.fromisoformat(view["granted_at"])
    assert granted_at >= start
    # The duration counts from the grant, not from the request or the approval.
    assert datetime.fromisoformat(view["expires_at"]) - granted_at == timedelta(hours=1)
    assert granted(h, rid)
    assert "scheduled" in h.notifier.kinds(rid)


async def test_a_scheduled_request_can_be_withdrawn_before_it_starts(h: Harness) -> None:
    rid = (await h.client.submit(await scheduled_spec(h, timedelta(hours=3)))).request_id
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await settle(h, rid, {"SCHEDULED"})
    await h.client.revoke(rid, "dan@example.com", "plans changed")
    view = await settle(h, rid, {"REVOKED"})
    assert "withdrawn by dan@example.com" in view["status_reason"]
    await skip(h, 4 * 3600)
    assert not granted(h, rid)


@pytest.fixture()
async def movable(time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path) -> AsyncIterator[Harness]:
    """A harness on a copy of the test catalog that the test may rewrite."""
    path = config_with(tmp_path / "cfg", "read-folders")
    async for harness in make_harness(time_env, tmp_path, state_dir, path):
        yield harness


async def test_a_requester_who_left_the_flow_before_the_start_is_refused(movable: Harness, tmp_path: Path) -> None:
    h = movable
    rid = (await h.client.submit(await scheduled_spec(h, timedelta(hours=2)))).request_id
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await settle(h, rid, {"SCHEDULED"})
    path = tmp_path / "cfg" / "grantflow.yml"
    data = yaml.safe_load(path.read_text())
    data["groups"]["engineering"].remove("dan@example.com")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    view = await settle(h, rid, {"FAILED"}, max_skip=3 * 3600)
    assert view["status_reason"].startswith("no longer eligible: dan@example.com is no longer a requestor")
    assert not granted(h, rid)


async def test_the_workflow_refuses_a_start_in_the_past_or_too_far_ahead(h: Harness) -> None:
    past = (await h.client.submit(await scheduled_spec(h, -timedelta(minutes=5)))).request_id
    view = await settle(h, past, {"FAILED"})
    assert "is in the past" in view["status_reason"]
    far = (await h.client.submit(await scheduled_spec(h, timedelta(days=15)))).request_id
    view = await settle(h, far, {"FAILED"})
    assert "more than 14d ahead" in view["status_reason"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("+30d", "more than 14d ahead"),
        ("2001-01-01T00:00", "is in the past"),
        ("next tuesday", "is not a time"),
        ("+soon", '"soon" is not a duration'),
    ],
)
async def test_the_front_door_refuses_a_bad_start(h: Harness, value: str, words: str) -> None:
    with pytest.raises(BadRequest, match=words) as caught:
        h.client.build_spec(
            requester="dan@example.com",
            integration="files",
            resource_type="folder",
            resources=["alpha"],
            permission="read",
            duration="1h",
            justification="later",
            start_at=value,
        )
    assert caught.value.field == "start_at"


async def test_the_front_door_reads_relative_and_iso_starts(h: Harness) -> None:
    fields = dict(
        requester="dan@example.com",
        integration="files",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration="1h",
        justification="later",
    )
    before = datetime.now(UTC)
    rel = h.client.build_spec(**fields, start_at="+2h")  # type: ignore[arg-type]
    assert rel.start_at is not None and timedelta(hours=2) <= rel.start_at - before < timedelta(hours=2, minutes=1)
    when = (before + timedelta(days=1)).replace(microsecond=0)
    iso = h.client.build_spec(**fields, start_at=when.strftime("%Y-%m-%dT%H:%M:%S"))  # type: ignore[arg-type]
    assert iso.start_at == when
    berlin = h.client.build_spec(**fields, start_at=(when.isoformat().replace("+00:00", "+01:00")))  # type: ignore[arg-type]
    assert berlin.start_at == when - timedelta(hours=1)
