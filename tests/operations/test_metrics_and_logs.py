"""Worker observability: Prometheus metrics fed by the publish activity, the Temporal SDK's runtime
metrics on their own port, and JSON log lines that carry the request id inside activities."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from temporalio.client import Client

from grantflow.domain.models import AccessStatus, AuditEvent, GrantItem, StatusView, Transition
from grantflow.domain.ops import PublishBatch
from grantflow.observability import metrics
from tests.conftest import DevServer, free_port
from tests.operations.conftest import Stack, eventually


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def scrape(port: int) -> str:
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    return await asyncio.to_thread(get)


async def test_lifecycle_metrics_from_a_real_request(stack: Stack) -> None:
    before = (
        sample("grantflow_request_transitions_total", status="ACTIVE"),
        sample("grantflow_time_to_approval_seconds_count"),
        sample("grantflow_time_to_grant_seconds_count"),
    )
    spec = stack.client.build_spec(
        requester="alice@example.com",
        integration="files",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration="1h",
        justification="metrics",
    )
    rid = (await stack.client.submit(spec)).request_id
    await stack.client.approve(rid, "carol@example.com")
    assert (await stack.client.wait_for(rid, {AccessStatus.ACTIVE})).status == AccessStatus.ACTIVE

    async def now() -> tuple[float, float, float]:
        return (
            sample("grantflow_request_transitions_total", status="ACTIVE"),
            sample("grantflow_time_to_approval_seconds_count"),
            sample("grantflow_time_to_grant_seconds_count"),
        )

    after = await eventually(now, lambda a: all(x >= y + 1 for x, y in zip(a, before, strict=True)))
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]
    metrics.refresh_request_gauge(stack.store.count_by_status, force=True)
    assert sample("grantflow_requests", status="ACTIVE") >= 1

    port = free_port()
    server = metrics.serve_metrics(port, "127.0.0.1")
    try:
        text = await scrape(port)
    finally:
        server.shutdown()
    for name in (
        "grantflow_request_transitions_total",
        "grantflow_time_to_approval_seconds_bucket",
        "grantflow_time_to_grant_seconds_bucket",
        "grantflow_requests{",
    ):
        assert name in text
    await stack.client.revoke(rid, "alice@example.com")


def test_failures_are_counted_per_integration_once() -> None:
    now = datetime.now(UTC)
    item = GrantItem(integration="warehouse", resource_type="db", resource="x", permission="read")
    view = StatusView(
        request_id="r1",
        workflow_id="access-request-r1",
        status=AccessStatus.FAILED,
        requester="a@example.com",
        grantee="a@example.com",
        grants=[item],
        duration_seconds=60,
        submitted_at=now - timedelta(minutes=1),
    )
    events = [
        AuditEvent(
            key="r1:1",
            request_id="r1",
            at=now,
            actor="grantflow",
            action="grant",
            outcome="failed",
            detail=item.model_dump(),
        ),
        AuditEvent(
            key="r1:2",
            request_id="r1",
            at=now,
            actor="grantflow",
            action="revoke",
            outcome="failed",
            detail=item.model_dump(),
        ),
    ]
    grant0 = sample("grantflow_grant_failures_total", integration="warehouse")
    revoke0 = sample("grantflow_revoke_failures_total", integration="warehouse")
    failed0 = sample("grantflow_request_transitions_total", status="FAILED")
    metrics.observe(PublishBatch(transitions=[Transition(kind="failed", status=view, events=events)]))
    assert sample("grantflow_grant_failures_total", integration="warehouse") == grant0 + 1
    assert sample("grantflow_revoke_failures_total", integration="warehouse") == revoke0 + 1
    assert sample("grantflow_request_transitions_total", status="FAILED") == failed0 + 1


async def test_temporal_runtime_metrics_on_their_own_port(dev_server: DevServer) -> None:
    port = free_port()
    client = await Client.connect(dev_server.address, runtime=metrics.temporal_runtime(port, "127.0.0.1"))
    await client.count_workflows()

    text = await eventually(lambda: scrape(port), lambda t: "temporal_request" in t, timeout=10)
    assert "temporal_request" in text


LOG_SCRIPT = """
import asyncio, dataclasses, logging
import structlog
from temporalio import activity
from temporalio.testing import ActivityEnvironment
from grantflow.observability.logs import configure_logging

configure_logging()

@activity.defn
async def work() -> None:
    structlog.get_logger("grantflow.test").info("granting", item="files/alpha")
    logging.getLogger("temporalio.activity").warning("sdk says hi")

env = ActivityEnvironment()
env.info = dataclasses.replace(env.info, workflow_id="access-request-abc123", activity_type="grant_item")
asyncio.run(env.run(work))
structlog.get_logger("grantflow.test").info("outside")
"""


def test_json_logs_carry_the_request_id_in_activities() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", LOG_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GRANTFLOW_LOG_FORMAT": "json", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    by_event = {line["event"]: line for line in lines}
    for event in ("granting", "sdk says hi"):
        assert by_event[event]["request_id"] == "abc123"
        assert by_event[event]["activity"] == "grant_item"
        assert by_event[event]["workflow_id"] == "access-request-abc123"
    assert by_event["granting"]["item"] == "files/alpha" and by_event["granting"]["level"] == "info"
    assert by_event["sdk says hi"]["level"] == "warning"
    assert "request_id" not in by_event["outside"]
