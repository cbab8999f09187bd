"""The one small interface every integration implements, and the errors it raises.

An integration turns a `GrantItem` into real access on a target system. Each method must be
idempotent: Temporal may run an activity twice (a retry after a crash), and running `grant` twice must
leave exactly one grant, `revoke` on something already gone must succeed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from grantflow.domain.models import GrantItem


class GrantContext(BaseModel):
    request_id: str
    requester: str
    grantee: str
    item: GrantItem
    expires_at: datetime
    # Secret material an integration may derive credentials from, so that a retried or parallel grant
    # of the same request yields the same password (None: the integration picks a random one).
    secret_seed: bytes | None = None


class IntegrationError(Exception):
    """A failure with a message meant for people. `retryable=False` means retrying cannot help
    (unknown table, bad permission), so the activity fails at once."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class Integration(ABC):
    """Grant, extend and revoke access on one target system; list what can be requested there."""

    # True when grantflow cannot know which access details are secret (a script prints what it likes):
    # then every detail is sealed in the vault and history gets only the reference.
    seals_all_details: ClassVar[bool] = False

    @abstractmethod
    async def grant(self, ctx: GrantContext) -> dict[str, Any]:
        """Create the access; return access details for the grantee (host, user, ...)."""

    @abstractmethod
    async def extend(self, ctx: GrantContext) -> None:
        """Move the access's own expiry to `ctx.expires_at` (no-op when the target has none)."""

    @abstractmethod
    async def revoke(self, ctx: GrantContext) -> None:
        """Remove the access. Succeeds when it is already gone."""

    @abstractmethod
    async def list_resources(self, resource_type: str) -> list[str]:
        """What can be requested of this resource type, for pickers and assist."""


class ListsOwnAccounts(ABC):
    """An integration that names what it creates after the request (`gf_<local>_<request id>`), so the
    reconcile schedule can list them, match them to requests and drop the ones no live request holds."""

    @abstractmethod
    def account_for(self, grantee: str, request_id: str) -> str:
        """The name this integration gives the request's account (the reconcile handle)."""

    @abstractmethod
    async def list_grantflow_roles(self) -> list[str]:
        """Every account this integration may have made."""

    @abstractmethod
    async def drop_role(self, handle: str) -> None:
        """Lock the account out, end its sessions, drop it. Safe to repeat; refuses names not its own shape."""
