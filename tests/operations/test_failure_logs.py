"""What the worker's log says (issue 13, point 12), from the real `grantflow worker` process with JSON logs:
a failed grant is one WARNING line with the request id and the reason (no traceback above DEBUG), and an
automatic approval is not announced as "waiting for approval"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

from grantflow.client import GrantflowClient
from grantflow.domain.models import AccessStatus
from grantflow.settings import Settings
from tests.conftest import EXAMPLE_CONFIG, DevServer, venv_binary
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS


async def test_a_failed_grant_is_one_warning_line_and_auto_approval_is_not_waiting(
    dev_server: DevServer, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DEMO_PG_DSN"},
        "TEMPORAL_ADDRESS": dev_server.address,
        "GRANTFLOW_TASK_QUEUE": f"logs-{uuid.uuid4().hex[:8]}",
        "DATABASE_URL": f"sqlite:///{tmp_path}/grantflow.db",
        "GRANTFLOW_CONFIG": str(EXAMPLE_CONFIG),
        "GRANTFLOW_STATE_DIR": str(tmp_path / "state"),
        "GRANTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
        "GRANTFLOW_LOG_FORMAT": "json",
        "GRANTFLOW_LOG_LEVEL": "INFO",
    }
    log_file = tmp_path / "worker.log"
    with log_file.open("w") as log:
        worker = subprocess.Popen([venv_binary("grantflow"), "worker"], env=env, stderr=log, stdout=log)
    try:
        settings = Settings(**{"TEMPORAL_ADDRESS": env["TEMPORAL_ADDRESS"]}).model_copy(
            update={
                "task_queue": env["GRANTFLOW_TASK_QUEUE"],
                "database_url": env["DATABASE_URL"],
                "config_file": env["GRANTFLOW_CONFIG"],
                "encryption_keys": TEST_ENCRYPTION_KEYS,
            }
        )
        client = await GrantflowClient.connect(settings)
        # The worker has no DEMO_PG_DSN: the grant fails for a reason people can read.
        failing = await client.request(
            requester="alice@example.com",
            integration="demo-postgres",
            resource_type="database",
            resources=["orders"],
            permission="read",
            duration="1h",
            justification="logs",
        )
        await client.approve(failing.request_id, "bob@example.com")
        view = await client.wait_for(failing.request_id, {AccessStatus.FAILED}, timeout=60)
        assert view.status == AccessStatus.FAILED, view
        auto = await client.request(
            requester="alice@example.com",
            integration="reports",
            resource_type="folder",
            resources=["sales"],
            permission="read",
            duration="1h",
        )
        view = await client.wait_for(auto.request_id, {AccessStatus.ACTIVE}, timeout=60)
        assert view.status == AccessStatus.ACTIVE, view
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=60)
    lines: list[dict[str, Any]] = []
    for raw in log_file.read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            raise AssertionError(f"a log line that is not one JSON object: {raw!r}") from None
    loud = [ln for ln in lines if ln.get("level") in ("warning", "error", "critical")]
    about = [ln for ln in loud if ln.get("request_id") == failing.request_id]
    assert len(about) == 1, loud
    [line] = about
    assert line["event"] == "grant failed" and "DEMO_PG_DSN" in line["reason"], line
    assert not [ln for ln in loud if "exception" in ln or "Traceback" in json.dumps(ln)], loud
    said = [ln["message"] for ln in lines if ln.get("event") == "notify" and ln.get("request_id") == auto.request_id]
    assert said and not [m for m in said if "waiting for approval" in m], said
    assert any("approved automatically" in m for m in said), said
