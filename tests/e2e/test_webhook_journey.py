"""Issue 16, point 3 on the real stack (dev server, worker, CLI, vault): a webhook that answers 503 is
delivered again by Temporal's retry and the request becomes ACTIVE with the receiver's answer as sealed
access details; a 400 fails the request with the receiver's message; revoke is delivered and signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import DevServer, free_port
from tests.e2e.conftest import Stack, start_stack
from tests.e2e.test_script_secrets import audit_trail, histories

CONFIG = """\
groups:
  eng: [alice@example.com]
integrations:
  - id: tickets
    type: webhook
    url: http://127.0.0.1:{port}/grantflow
    secret_env: TICKETS_HOOK_SECRET
    timeout: 5s
    resource_types:
      - {{id: queue, resources: [ops, broken], permissions: [triage]}}
access_flows:
  - id: auto
    requestors: [group:eng]
    grants:
      - {{integration: tickets, resource_types: [queue], resources: ["*"], permissions: [triage]}}
    approvals_required: 0
    max_duration: 8h
    justification_required: false
"""


class Receiver:
    """Answers 503 to the first delivery of each grant, then 200 with a credential; 400 for `broken`."""

    def __init__(self, secret: str):
        self.secret = secret.encode()
        self.deliveries: list[dict[str, Any]] = []
        self.token = f"tk-{uuid.uuid4().hex}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ts = request.headers["X-Grantflow-Timestamp"]
        want = "v1=" + hmac.new(self.secret, f"v1:{ts}:".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, request.headers["X-Grantflow-Signature"]):
            return web.json_response({"error": "bad signature"}, status=401)
        d = json.loads(body)
        self.deliveries.append(d)
        if d["resource"] == "broken":
            return web.json_response({"error": "queue 'broken' is archived"}, status=400)
        tries = [x for x in self.deliveries if x["idempotency_key"] == d["idempotency_key"]]
        if d["action"] == "grant" and len(tries) == 1:
            return web.json_response({"error": "warming up"}, status=503)
        if d["action"] == "grant":
            return web.json_response({"queue": d["resource"], "api_token": self.token})
        return web.json_response({"ok": True})


@pytest.fixture()
async def hook_stack(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[tuple[Stack, Receiver]]:
    port = free_port()
    secret = f"whsec-{uuid.uuid4().hex}"
    receiver = Receiver(secret)
    app = web.Application()
    app.router.add_post("/grantflow", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    config = tmp_path / "grantflow.yml"
    config.write_text(CONFIG.format(port=port))
    try:
        async for st in start_stack(dev_server, tmp_path, config=config, extra_env={"TICKETS_HOOK_SECRET": secret}):
            yield st, receiver
    finally:
        await runner.cleanup()


async def request(st: Stack, queue: str) -> tuple[str, str]:
    out = await st.cli_json(
        "request",
        "--as",
        "alice@example.com",
        "--integration",
        "tickets",
        "--resource-type",
        "queue",
        "--resource",
        queue,
        "--permission",
        "triage",
        "--duration",
        "1h",
    )
    return out["request_id"], out["workflow_id"]


async def test_503_is_retried_then_granted_sealed_and_revoked(hook_stack: tuple[Stack, Receiver]) -> None:
    st, receiver = hook_stack
    rid, wid = await request(st, "ops")
    await st.wait_status(rid, "ACTIVE", timeout=60)
    grants = [d for d in receiver.deliveries if d["action"] == "grant"]
    assert len(grants) == 2 and grants[0] == grants[1]  # the same delivery (same idempotency key), retried
    assert grants[0]["request_id"] == rid and grants[0]["grantee"] == "alice@example.com"

    details: dict[str, Any] = await st.cli_json("details", rid, "--as", "alice@example.com")
    [access] = details.values()
    assert access == {"queue": "ops", "api_token": receiver.token}
    for name, text in (await histories(st, wid)).items():
        assert receiver.token not in text, name
    assert receiver.token not in await audit_trail(st, rid)

    await st.cli("revoke", rid, "--as", "alice@example.com", check=True)
    await st.wait_status(rid, "REVOKED")
    assert receiver.deliveries[-1]["action"] == "revoke"
    assert receiver.deliveries[-1]["idempotency_key"] != grants[0]["idempotency_key"]


async def test_400_fails_the_request_with_the_receivers_message(hook_stack: tuple[Stack, Receiver]) -> None:
    st, receiver = hook_stack
    rid, _ = await request(st, "broken")
    view = await st.wait_status(rid, "FAILED", timeout=60)
    assert "queue 'broken' is archived" in view["status_reason"]
    assert "HTTP 400" in view["status_reason"]
    # Final at once: one delivery of the grant, not Temporal's three attempts.
    assert [d["action"] for d in receiver.deliveries if d["action"] == "grant"] == ["grant"]
