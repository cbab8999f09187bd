"""How the workflow runs its short steps (the policy decision, a proof check, the start-time eligibility check):
as regular activities, never as local activities, for every history begun with REMOTE_STEPS_PATCH.

Why not local: with temporalio 1.35.0 a query (or any other workflow task) that reaches a workflow while it
waits on a local activity can make the worker hand the activity's result to the workflow one workflow task
later than the task whose history records it. On replay the result comes back where history has it, so a
workflow that went on differently (a publish batched with a later transition, an Update handled before the
result) no longer replays: after any cache eviction the request stops on a nondeterminism error and its access
is never revoked. Core's changelog lists the fix as unreleased ("A query or other workflow task that arrives
while a workflow waits on a local activity no longer causes the current workflow task to be lost").
A regular activity's result is an event of its own, delivered in one place both live and on replay.
tests/workflows/test_no_local_steps.py proves new histories have no local activity in them.

Histories begun before the patch replay their local activities as recorded; a request of theirs still in flight
when the worker is upgraded runs every later step as a regular activity: each step asks its own patch
(`steps-not-local-<n>`, n counting the run's steps), which is true for a step first run by this code and false
for one replayed from such a history.
Deterministic, no I/O: it runs inside the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

REMOTE_STEPS_PATCH = "steps-not-local"


class Steps:
    """How this run runs its short steps; `start()` once, at the top of the run."""

    def __init__(self) -> None:
        self.remote = False
        self._count = 0

    def start(self) -> None:
        self.remote = workflow.patched(REMOTE_STEPS_PATCH)

    def remote_now(self) -> bool:
        """Whether the next step runs as a regular activity (always, for a run begun with the patch)."""
        if self.remote:
            return True
        self._count += 1
        return workflow.patched(f"{REMOTE_STEPS_PATCH}-{self._count}")

    async def run(
        self,
        method: Callable[..., Any],
        *args: Any,
        start_to_close_timeout: timedelta,
        retry_policy: RetryPolicy | None = None,
        summary: str | None = None,
    ) -> Any:
        """Run one activity method as a step: a regular activity, or a local one where history has one."""
        if self.remote_now():
            return await workflow.execute_activity_method(
                method,
                args=list(args),
                start_to_close_timeout=start_to_close_timeout,
                retry_policy=retry_policy,
                summary=summary,
            )
        return await workflow.execute_local_activity_method(
            method,
            args=list(args),
            start_to_close_timeout=start_to_close_timeout,
            retry_policy=retry_policy,
            summary=summary,
        )
