"""Calling the item activities (grant, extend, revoke one item: `GrantActivities` in activities/grants.py)
with their timeouts and retries, and reading what went wrong when one fails. No I/O of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.grants import GrantActivities
    from grantflow.domain.ops import ItemOp

GRANT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10), maximum_attempts=3
)
EXTEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5
)
# Each revoke round retries a few times inside the activity; between rounds the workflow records the error
# in status_reason and backs off, forever: revocation is never given up.
REVOKE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=20), maximum_attempts=4
)
ITEM_TIMEOUT = timedelta(minutes=2)
# Item activities heartbeat while a call runs long (activities/grants.py): a crashed worker's grant or
# revoke is retried elsewhere after this, not after the two-minute start-to-close timeout.
ITEM_HEARTBEAT_TIMEOUT = timedelta(seconds=10)

ItemActivity = Callable[[GrantActivities, ItemOp], Awaitable[dict[str, Any]]]


async def call_item(activity: ItemActivity, op: ItemOp, retry: RetryPolicy) -> dict[str, Any]:
    """Run `GrantActivities.grant_item`, `.extend_item` or `.revoke_item` for one item."""
    return await workflow.execute_activity_method(
        activity,
        op,
        start_to_close_timeout=ITEM_TIMEOUT,
        heartbeat_timeout=ITEM_HEARTBEAT_TIMEOUT,
        retry_policy=retry,
        # "grant <item>", "extend <item>", "revoke <item>"
        summary=f"{activity.__name__.removesuffix('_item')} {op.item.label()}",
    )


def cause(exc: BaseException) -> str:
    """The innermost message of an activity failure: what actually went wrong."""
    while isinstance(exc, ActivityError) and exc.cause is not None:
        exc = exc.cause
    return str(exc) or type(exc).__name__
