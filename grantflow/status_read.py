"""How every door (Slack, CLI, MCP, the upgrade test's lanes) reads where a request stands.

A query makes a worker replay the run. The doors avoid a replay where temporalio 1.35.0 can fail one
(CHANGELOG.md, Known problems) or where it buys nothing: a run that ended with a result is read from that
result; a run that ended otherwise, or whose workflow task waits on a dead worker, from the request index
(written by the workflow's publish step); anything else by the `status` query, falling back to the index when
the query fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowQueryFailedError

from grantflow.domain.models import StatusView
from grantflow.temporal import run_state
from workflows.access_request import AccessRequestWorkflow

__all__ = ["read_status"]


async def read_status(
    handle: WorkflowHandle[Any, Any], indexed: Callable[[], Awaitable[StatusView | None]]
) -> StatusView:
    """The request's status view; `indexed` reads its row in the request index (None when it has none).
    RPC errors (no such workflow, server unreachable) are the caller's to judge."""
    state = await run_state(handle)
    if state.completed:
        result = await handle.result()
        return result if isinstance(result, StatusView) else StatusView.model_validate(result)
    if not state.running or state.stranded:
        view = await indexed()
        if view is not None:
            return view
    try:
        return await handle.query(AccessRequestWorkflow.status)
    except WorkflowQueryFailedError:
        view = await indexed()
        if view is None:
            raise
        return view
