"""The `webhook` integration: a signed JSON POST per grant, extend and revoke, to anything with an HTTP API.

The body is `{action, request_id, idempotency_key, grantee, requester, resource_type, resource,
permission, expires_at}`; `idempotency_key` is the same for every delivery of one action on one item
(a retry, a worker crash mid-call), so a receiver that remembers it applies each action once. Every
delivery is signed as Slack signs its requests: `X-Grantflow-Timestamp` (Unix seconds) and
`X-Grantflow-Signature: v1=<hex HMAC-SHA256(secret, "v1:{timestamp}:{body}")>`, the secret read from the
worker's environment variable `secret_env`. `examples/webhook_receiver.py` verifies both and refuses stale
and replayed deliveries.

Outcomes: 2xx is success, and the JSON object a grant answers with is the access details (sealed whole in
the vault, like a script's output: grantflow cannot tell which of its keys are secret). 5xx, 408, 429, a
timeout or a refused connection is a retryable failure: the activity fails and Temporal's retry policy of
the item (`workflows/items.py`: GRANT_RETRY, EXTEND_RETRY, REVOKE_RETRY, exponential backoff from 1s)
delivers again; there is no retry loop inside the activity, so every attempt is visible in history. Any
other 4xx fails the item at once (non-retryable) with the receiver's message: the `error` or `message`
of a JSON body, else its text, cut to `MAX_REASON` characters.

Discovery: a resource type lists `resources`, or a `discovery_url` that answers a signed GET (body empty)
with a JSON list of names (or `{"resources": [...]}`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from activities.integrations.base import GrantContext, Integration, IntegrationError
from grantflow.domain.config import WebhookIntegration

SIGNATURE_HEADER = "X-Grantflow-Signature"
TIMESTAMP_HEADER = "X-Grantflow-Timestamp"
MAX_REASON = 500
_MAX_BODY = 64 * 1024
RETRYABLE_STATUS = frozenset({408, 425, 429})


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`v1=` and the hex HMAC-SHA256 of `v1:{timestamp}:{body}` under `secret`."""
    mac = hmac.new(secret, b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def idempotency_key(action: str, ctx: GrantContext) -> str:
    """One key per action on one item of one request (an extension also per new expiry)."""
    i = ctx.item
    parts = [ctx.request_id, action, i.integration, i.resource_type, i.resource, i.permission]
    if action == "extend":
        parts.append(ctx.expires_at.isoformat())
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def delivery(action: str, ctx: GrantContext) -> dict[str, str]:
    return {
        "action": action,
        "request_id": ctx.request_id,
        "idempotency_key": idempotency_key(action, ctx),
        "grantee": ctx.grantee,
        "requester": ctx.requester,
        "resource_type": ctx.item.resource_type,
        "resource": ctx.item.resource,
        "permission": ctx.item.permission,
        "expires_at": ctx.expires_at.isoformat(),
    }


def response_message(status: int, text: str) -> str:
    """What a refusal says: the `error` or `message` of a JSON body, else the body, cut."""
    message = text.strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for key in ("error", "message", "detail"):
            if isinstance(parsed.get(key), str) and parsed[key].strip():
                message = parsed[key].strip()
                break
    if len(message) > MAX_REASON:
        message = message[: MAX_REASON - 1] + "…"
    return message or f"HTTP {status}"


class WebhookIntegrationDriver(Integration):
    seals_all_details = True

    def __init__(self, config: WebhookIntegration, environ: Mapping[str, str] | None = None):
        self.config = config
        self.environ = os.environ if environ is None else environ

    def _secret(self) -> bytes:
        secret = self.environ.get(self.config.secret_env, "")
        if not secret:
            raise IntegrationError(
                f"{self.config.id}: the signing secret {self.config.secret_env} is not set on the worker",
                retryable=False,
            )
        return secret.encode()

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {}
        for name, env in self.config.headers.items():
            if env not in self.environ:
                raise IntegrationError(
                    f"{self.config.id}: header {name} needs {env}, which is not set on the worker", retryable=False
                )
            headers[name] = self.environ[env]
        timestamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = sign(self._secret(), timestamp, body)
        headers["User-Agent"] = "grantflow-webhook/1"
        return headers

    async def _send(self, method: str, url: str, what: str, body: bytes = b"") -> str:
        headers = self._headers(body)
        if body:
            headers["Content-Type"] = "application/json"
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(method, url, data=body, headers=headers, allow_redirects=False) as resp,
            ):
                text = (await resp.content.read(_MAX_BODY)).decode(errors="replace")
                status = resp.status
        except TimeoutError:
            raise IntegrationError(f"{self.config.id}: {what} timed out after {self.config.timeout}s") from None
        except aiohttp.ClientError as exc:
            raise IntegrationError(f"{self.config.id}: {what} could not reach the receiver: {exc}") from None
        if 200 <= status < 300:
            return text
        message = response_message(status, text)
        retryable = status >= 500 or status in RETRYABLE_STATUS
        raise IntegrationError(f"{self.config.id}: {what} refused (HTTP {status}): {message}", retryable=retryable)

    async def _deliver(self, action: str, ctx: GrantContext) -> str:
        body = json.dumps(delivery(action, ctx), separators=(",", ":")).encode()
        return await self._send("POST", self.config.url, action, body)

    async def grant(self, ctx: GrantContext) -> dict[str, Any]:
        text = (await self._deliver("grant", ctx)).strip()
        if not text:
            return {}
        try:
            parsed = json.loads(text)
        except ValueError:
            return {"output": text}
        return parsed if isinstance(parsed, dict) else {"output": parsed}

    async def extend(self, ctx: GrantContext) -> None:
        await self._deliver("extend", ctx)

    async def revoke(self, ctx: GrantContext) -> None:
        await self._deliver("revoke", ctx)

    async def list_resources(self, resource_type: str) -> list[str]:
        rt = next((t for t in self.config.resource_types if t.id == resource_type), None)
        if rt is None:
            raise IntegrationError(f"{self.config.id} has no resource type {resource_type!r}", retryable=False)
        if not rt.discovery_url:
            return list(rt.resources)
        text = await self._send("GET", rt.discovery_url, f"discovery of {resource_type}")
        try:
            parsed = json.loads(text)
        except ValueError:
            raise IntegrationError(f"{self.config.id}: discovery of {resource_type} did not answer JSON") from None
        if isinstance(parsed, dict):
            parsed = parsed.get("resources")
        if not isinstance(parsed, list) or not all(isinstance(n, str) for n in parsed):
            raise IntegrationError(
                f"{self.config.id}: discovery of {resource_type} must answer a JSON list of names", retryable=False
            )
        return [n.strip() for n in parsed if n.strip()]
