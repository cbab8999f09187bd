"""Grant, extend and revoke one item through its integration.

Integration errors become Temporal application errors: retryable ones retry by the workflow's policy,
the others fail at once with the integration's message as the reason people see. Secrets an integration
returns (a password) are handed to the secret keeper, and only a reference goes back into history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.integrations import registry
from activities.integrations.base import GrantContext, Integration, IntegrationError
from grantflow.config import ConfigSource
from grantflow.ops import ItemOp

SECRET_KEYS = ("password", "psql", "dsn", "token", "secret")
# A call that outlives this heartbeats, so that a worker killed mid-call is noticed after the workflow's
# heartbeat timeout instead of the whole start-to-close timeout. Quick calls never heartbeat (no extra
# round trip on the common path).
HEARTBEAT_EVERY_SECONDS = 3.0

T = TypeVar("T")


async def _heartbeating(call: Coroutine[Any, Any, T]) -> T:
    task = asyncio.ensure_future(call)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_SECONDS)
            if done:
                return task.result()
            activity.heartbeat()
    except BaseException:
        task.cancel()
        raise


class SecretKeeper(Protocol):
    """Keeps access-detail secrets out of workflow history (see docs/security.md)."""

    def seed(self) -> bytes: ...

    def put(self, request_id: str, item_key: str, details: dict[str, str]) -> str: ...

    def delete(self, request_id: str, item_key: str) -> None: ...


def item_key(op: ItemOp) -> str:
    i = op.item
    return f"{i.integration}/{i.resource_type}/{i.resource}/{i.permission}"


class GrantActivities:
    def __init__(self, config: ConfigSource, state_dir: Path, secrets: SecretKeeper | None = None):
        self.config = config
        self.state_dir = state_dir
        self.secrets = secrets

    def _integration(self, op: ItemOp) -> Integration:
        try:
            return registry.build(self.config.get(), op.item.integration, self.state_dir)
        except IntegrationError as exc:
            raise ApplicationError(str(exc), type="IntegrationError", non_retryable=not exc.retryable) from None

    def _context(self, op: ItemOp) -> GrantContext:
        # The seed makes credentials a function of the request: every item and every retry agree on them.
        return GrantContext(
            request_id=op.request_id,
            requester=op.requester,
            grantee=op.grantee,
            item=op.item,
            expires_at=op.expires_at,
            secret_seed=self.secrets.seed() if self.secrets is not None else None,
        )

    async def _call(self, what: str, op: ItemOp) -> dict[str, Any]:
        integ = self._integration(op)
        ctx = self._context(op)
        try:
            if what == "grant":
                return await _heartbeating(integ.grant(ctx))
            if what == "extend":
                await _heartbeating(integ.extend(ctx))
            else:
                await _heartbeating(integ.revoke(ctx))
            return {}
        except IntegrationError as exc:
            raise ApplicationError(str(exc), type="IntegrationError", non_retryable=not exc.retryable) from None

    @activity.defn(name="grant_item")
    async def grant_item(self, op: ItemOp) -> dict[str, Any]:
        details = await self._call("grant", op)
        if any(k in SECRET_KEYS for k in details):
            if self.secrets is None:
                # Undo what was just created: without a vault the secret would have nowhere to go.
                await self._call("revoke", op)
                raise ApplicationError(
                    "the integration returned a secret but GRANTFLOW_ENCRYPTION_KEYS is not set on the worker",
                    type="ConfigurationError",
                    non_retryable=True,
                )
            # The vault keeps the whole details (the grantee's view); history keeps the non-secret part.
            ref = await asyncio.to_thread(
                self.secrets.put, op.request_id, item_key(op), {k: str(v) for k, v in details.items()}
            )
            details = {k: v for k, v in details.items() if k not in SECRET_KEYS}
            details["secret_ref"] = ref
        return details

    @activity.defn(name="extend_item")
    async def extend_item(self, op: ItemOp) -> dict[str, Any]:
        return await self._call("extend", op)

    @activity.defn(name="revoke_item")
    async def revoke_item(self, op: ItemOp) -> dict[str, Any]:
        await self._call("revoke", op)
        if self.secrets is not None:
            await asyncio.to_thread(self.secrets.delete, op.request_id, item_key(op))
        return {}
