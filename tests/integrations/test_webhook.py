"""The `webhook` integration against real HTTP servers on loopback: what is signed and sent, what each
answer means, discovery, and the reference receiver (examples/webhook_receiver.py) run as a user runs it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from activities.integrations.base import GrantContext, IntegrationError
from activities.integrations.webhook import WebhookIntegrationDriver, idempotency_key, sign
from grantflow.domain.config import WebhookIntegration
from grantflow.domain.models import GrantItem
from tests.conftest import ROOT, free_port

SECRET = "whsec-test-0123456789"
RECEIVER = ROOT / "examples" / "webhook_receiver.py"


@dataclass
class Hook:
    """A loopback HTTP server that records each request and answers from a script of (status, body)."""

    url: str
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(b) for m, _, _, b in self.seen if m == "POST"]


@pytest.fixture()
async def hook() -> AsyncIterator[Hook]:
    port = free_port()
    h = Hook(url=f"http://127.0.0.1:{port}")

    async def any_request(request: web.Request) -> web.StreamResponse:
        h.seen.append((request.method, request.path, dict(request.headers), await request.read()))
        status, body = h.answers.pop(0) if h.answers else (200, {})
        if status == 0:
            await asyncio.sleep(3)  # longer than the driver waits
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=status, text=text, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", any_request)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield h
    finally:
        await runner.cleanup()


def driver(url: str, *, timeout: int = 5, env: dict[str, str] | None = None, **extra: Any) -> WebhookIntegrationDriver:
    cfg = WebhookIntegration.model_validate(
        {
            "id": "hook",
            "type": "webhook",
            "url": url,
            "secret_env": "HOOK_SECRET",
            "headers": {"Authorization": "HOOK_TOKEN"},
            "timeout": timeout,
            "resource_types": [{"id": "folder", "resources": ["alpha", "beta"], "permissions": ["read"]}],
            **extra,
        }
    )
    environ = {"HOOK_SECRET": SECRET, "HOOK_TOKEN": "Bearer t0k3n"} if env is None else env
    return WebhookIntegrationDriver(cfg, environ)


def ctx(resource: str = "alpha", request_id: str = "abcdefgh23456789") -> GrantContext:
    return GrantContext(
        request_id=request_id,
        requester="alice@example.com",
        grantee="bob@example.com",
        item=GrantItem(integration="hook", resource_type="folder", resource=resource, permission="read"),
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


def verify(headers: dict[str, str], body: bytes, secret: str = SECRET) -> bool:
    """The receiver's check, written out independently of the driver's `sign`."""
    ts = headers["X-Grantflow-Timestamp"]
    want = "v1=" + hmac.new(secret.encode(), f"v1:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, headers["X-Grantflow-Signature"])


async def test_each_delivery_is_signed_and_carries_the_item(hook: Hook) -> None:
    hook.answers = [(200, {"username": "bob", "password": "s3cret"}), (200, ""), (200, "")]
    d = driver(hook.url + "/grantflow")
    details = await d.grant(ctx())
    assert details == {"username": "bob", "password": "s3cret"}
    await d.extend(ctx())
    await d.revoke(ctx())
    assert [(m, p) for m, p, _, _ in hook.seen] == [("POST", "/grantflow")] * 3
    for _, _, headers, body in hook.seen:
        assert verify(headers, body)
        assert not verify(headers, body, secret="another secret")
        assert abs(int(headers["X-Grantflow-Timestamp"]) - time.time()) < 60
        assert headers["Authorization"] == "Bearer t0k3n"
        assert headers["Content-Type"] == "application/json"
    grant, extend, revoke = hook.bodies()
    assert grant == {
        "action": "grant",
        "request_id": "abcdefgh23456789",
        "idempotency_key": idempotency_key("grant", ctx()),
        "grantee": "bob@example.com",
        "requester": "alice@example.com",
        "resource_type": "folder",
        "resource": "alpha",
        "permission": "read",
        "expires_at": "2030-01-01T00:00:00+00:00",
    }
    assert [extend["action"], revoke["action"]] == ["extend", "revoke"]
    assert len({grant["idempotency_key"], extend["idempotency_key"], revoke["idempotency_key"]}) == 3
    # A retry of the same action on the same item carries the same key; another item does not.
    assert idempotency_key("grant", ctx()) == grant["idempotency_key"]
    assert idempotency_key("grant", ctx("beta")) != grant["idempotency_key"]


async def test_answers_map_to_retryable_and_final_failures(hook: Hook) -> None:
    d = driver(hook.url, timeout=1)
    hook.answers = [(503, {"error": "maintenance"})]
    with pytest.raises(IntegrationError) as exc:
        await d.grant(ctx())
    assert exc.value.retryable and "HTTP 503" in str(exc.value) and "maintenance" in str(exc.value)
    hook.answers = [(429, "slow down")]
    with pytest.raises(IntegrationError) as exc:
        await d.revoke(ctx())
    assert exc.value.retryable
    hook.answers = [(400, {"error": "no such folder: alpha"})]
    with pytest.raises(IntegrationError) as exc:
        await d.grant(ctx())
    assert not exc.value.retryable
    assert str(exc.value) == "hook: grant refused (HTTP 400): no such folder: alpha"
    hook.answers = [(403, "x" * 2000)]
    with pytest.raises(IntegrationError) as exc:
        await d.grant(ctx())
    assert not exc.value.retryable and len(str(exc.value)) < 600
    hook.answers = [(0, "")]
    with pytest.raises(IntegrationError) as exc:
        await d.grant(ctx())
    assert exc.value.retryable and "timed out after 1s" in str(exc.value)
    closed = free_port()
    with pytest.raises(IntegrationError) as exc:
        await driver(f"http://127.0.0.1:{closed}/").grant(ctx())
    assert exc.value.retryable and "could not reach" in str(exc.value)


async def test_missing_secret_or_header_variable_fails_without_sending(hook: Hook) -> None:
    with pytest.raises(IntegrationError) as exc:
        await driver(hook.url, env={"HOOK_TOKEN": "x"}).grant(ctx())
    assert not exc.value.retryable and "HOOK_SECRET is not set" in str(exc.value)
    with pytest.raises(IntegrationError) as exc:
        await driver(hook.url, env={"HOOK_SECRET": SECRET}).grant(ctx())
    assert not exc.value.retryable and "HOOK_TOKEN" in str(exc.value)
    assert hook.seen == []


async def test_discovery_url_is_a_signed_get(hook: Hook) -> None:
    d = driver(
        hook.url,
        resource_types=[
            {"id": "folder", "discovery_url": hook.url + "/resources/folder", "permissions": ["read"]},
            {"id": "repo", "resources": ["web"], "permissions": ["read"]},
        ],
    )
    hook.answers = [(200, ["alpha", "beta"]), (200, {"resources": ["gamma"]}), (200, {"nope": 1})]
    assert await d.list_resources("folder") == ["alpha", "beta"]
    assert await d.list_resources("folder") == ["gamma"]
    with pytest.raises(IntegrationError):
        await d.list_resources("folder")
    assert await d.list_resources("repo") == ["web"]
    method, path, headers, body = hook.seen[0]
    assert (method, path, body) == ("GET", "/resources/folder", b"") and verify(headers, body)
    assert len(hook.seen) == 3


# --- the reference receiver, as a user runs it --------------------------------------------------------


@pytest.fixture()
def receiver() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "WEBHOOK_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, str(RECEIVER), "--port", str(port), "--resources", "folder=alpha,beta"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}" in line, line
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _state(url: str) -> dict[str, Any]:
    # A distinct signature per call (a new second): the receiver refuses a signature it has already seen.
    await asyncio.sleep(1.05)
    ts = str(int(time.time()))
    headers = {"X-Grantflow-Timestamp": ts, "X-Grantflow-Signature": sign(SECRET.encode(), ts, b"")}
    async with aiohttp.ClientSession() as s, s.get(url + "/state", headers=headers) as r:
        assert r.status == 200
        return dict(await r.json())


async def _post(url: str, body: bytes, ts: str, signature: str) -> tuple[int, dict[str, Any]]:
    headers = {"X-Grantflow-Timestamp": ts, "X-Grantflow-Signature": signature}
    async with aiohttp.ClientSession() as s, s.post(url + "/grantflow", data=body, headers=headers) as r:
        return r.status, dict(await r.json())


async def test_reference_receiver_applies_duplicates_once_and_refuses_forgeries(receiver: str) -> None:
    d = driver(receiver + "/grantflow", env={"HOOK_SECRET": SECRET, "HOOK_TOKEN": "unused"})
    first = await d.grant(ctx())
    await asyncio.sleep(1.05)  # Temporal's retries are at least a second apart: a new timestamp
    again = await d.grant(ctx())  # a retried delivery (same idempotency key, fresh signature)
    assert (
        first == again == {"account": "bob@example.com", "resource": "alpha", "expires_at": "2030-01-01T00:00:00+00:00"}
    )
    state = await _state(receiver)
    assert state["applied"] == 1 and len(state["grants"]) == 1

    # The receiver's refusals reach grantflow as final failures carrying the receiver's message.
    with pytest.raises(IntegrationError) as exc:
        await d.grant(ctx("gamma"))
    assert not exc.value.retryable and "unknown folder 'gamma'" in str(exc.value)

    body = b'{"action":"revoke","idempotency_key":"k-forged","resource_type":"folder","resource":"alpha"}'
    now = str(int(time.time()))
    assert await _post(receiver, body, now, "v1=" + "0" * 64) == (401, {"error": "bad signature"})
    assert await _post(receiver, body, now, sign(b"wrong secret", now, body)) == (401, {"error": "bad signature"})
    stale = str(int(time.time()) - 301)
    status, answer = await _post(receiver, body, stale, sign(SECRET.encode(), stale, body))
    assert status == 401 and answer["error"].startswith("stale delivery")
    good = sign(SECRET.encode(), now, body)
    assert (await _post(receiver, body, now, good))[0] == 200
    status, answer = await _post(receiver, body, now, good)  # the same delivery captured and sent again
    assert status == 409 and "replayed" in answer["error"]

    await d.revoke(ctx())
    state = await _state(receiver)
    assert state["grants"] == []
