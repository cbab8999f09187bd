"""Grant, extend and revoke one item through its integration.

Integration errors become Temporal application errors: retryable ones retry by the workflow's policy,
the others fail at once with the integration's message as the reason people see. Secrets an integration
returns (a password) are handed to the secret keeper, and only a reference goes back into history. A
script's output is sealed whole, whatever its keys are called: grantflow cannot tell what in it is secret.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.integrations import registry
from activities.integrations.base import GrantContext, Integration, IntegrationError
from grantflow.domain.config import ConfigSource
from grantflow.domain.ops import ItemOp

SECRET_KEYS = ("password", "psql", "dsn", "token", "secret")
WITHHELD = "the integration's output is not kept: GRANTFLOW_ENCRYPTION_KEYS is not set on the worker"
# A call that outlives this heartbeats, so that a worker killed mid-call is noticed after the workflow's
# heartbeat timeout instead of the whole start-to-close timeout. Quick calls never heartbeat (no extra
# round trip on the common path).
HEARTBEAT_EVERY_SECONDS = 3.0

log = structlog.get_logger("grantflow.grants")

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


def _text(value: Any) -> str:
    """A detail as the grantee reads it: strings as they are, anything else (a script's list) as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


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
            log.warning("integration unavailable", request_id=op.request_id, item=op.item.label(), reason=str(exc))
            raise ApplicationError(
                str(exc),
                type="IntegrationError",
                non_retryable=not exc.retryable,
                category=ApplicationErrorCategory.BENIGN,
            ) from None

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

    async def _call(self, what: str, op: ItemOp, integ: Integration | None = None) -> dict[str, Any]:
        integ = integ or self._integration(op)
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
            # One WARNING line with the request and the reason; BENIGN keeps the SDK's traceback at DEBUG.
            log.warning(
                f"{what} failed",
                request_id=op.request_id,
                item=op.item.label(),
                reason=str(exc),
                will_retry=exc.retryable,
            )
            raise ApplicationError(
                str(exc),
                type="IntegrationError",
                non_retryable=not exc.retryable,
                category=ApplicationErrorCategory.BENIGN,
            ) from None

    @activity.defn(name="grant_item")
    async def grant_item(self, op: ItemOp) -> dict[str, Any]:
        integ = self._integration(op)
        details = await self._call("grant", op, integ)
        # A script's output is opaque: any key may hold a credential, so all of it is sealed.
        secret = set(details) if integ.seals_all_details else {k for k in details if k in SECRET_KEYS}
        if not secret:
            if details and self.secrets is not None:
                # Nothing secret (an AWS portal and role), but the grantee reads details from the vault
                # alone (GrantflowClient.details): keep a copy there; history keeps them as they are.
                await asyncio.to_thread(
                    self.secrets.put, op.request_id, item_key(op), {k: _text(v) for k, v in details.items()}
                )
            return details
        if self.secrets is None:
            if integ.seals_all_details:
                log.warning(
                    "integration output withheld: no vault", integration=op.item.integration, request_id=op.request_id
                )
                return {"withheld": WITHHELD}
            # Undo what was just created: without a vault the secret would have nowhere to go.
            await self._call("revoke", op, integ)
            raise ApplicationError(
                "the integration returned a secret but GRANTFLOW_ENCRYPTION_KEYS is not set on the worker",
                type="ConfigurationError",
                non_retryable=True,
            )
        # The vault keeps the whole details (the grantee's view); history keeps the non-secret part.
        ref = await asyncio.to_thread(
            self.secrets.put, op.request_id, item_key(op), {k: _text(v) for k, v in details.items()}
        )
        details = {k: v for k, v in details.items() if k not in secret}
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
