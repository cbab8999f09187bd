"""Connecting to Temporal the same way everywhere (client, worker, tests): one data converter, one place."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import PendingWorkflowTaskState, WorkflowExecutionStatus
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, TLSConfig

from grantflow.domain.search_attributes import INDEXED_VALUE_TYPES, SEARCH_ATTRIBUTES
from grantflow.settings import Settings

__all__ = [
    "SEARCH_ATTRIBUTES",
    "RunState",
    "TemporalUnavailable",
    "connect",
    "data_converter",
    "register_search_attributes",
    "run_state",
    "task_stranded",
    "tls_config",
    "wait_for_search_attributes",
]

# A workflow task no worker has finished for this long waits on a dead worker (its sticky queue or last poll).
STRANDED_TASK = timedelta(seconds=1)


def data_converter(encryption_keys: str | None = None) -> DataConverter:
    """The pydantic converter, with the AES-GCM codec when keys are configured; failure messages and
    stack traces are then encrypted too (docs/contract.md: failure text is encrypted in history)."""
    keys = encryption_keys if encryption_keys is not None else os.environ.get("GRANTFLOW_ENCRYPTION_KEYS")
    if not keys:
        return pydantic_data_converter
    from grantflow.payloads.codec import data_converter as encrypted_converter
    from grantflow.payloads.codec import parse_keys

    return encrypted_converter(parse_keys(keys), encode_failure_attributes=True)


async def register_search_attributes(client: Client) -> None:
    """Register the contract's search attributes (idempotent): for servers not started by `grantflow dev`."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.service import RPCError

    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={k: IndexedValueType.ValueType(v) for k, v in INDEXED_VALUE_TYPES.items()},
            )
        )
    except RPCError as exc:
        if "already" not in str(exc).lower():
            raise


async def wait_for_search_attributes(client: Client, timeout: float = 60.0) -> None:
    """Return once the namespace lists every contract search attribute. `temporal server start-dev
    --search-attribute` registers them only after its port opens; a request started in that window is refused
    by the server ("search attribute ... is not defined"), so `grantflow dev` waits here before it says ready."""
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    missing: set[str] = set(SEARCH_ATTRIBUTES)
    while True:
        try:
            listed = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=client.namespace)
            )
            missing = set(SEARCH_ATTRIBUTES) - set(listed.custom_attributes)
            if not missing:
                return
            problem = "not registered: " + ", ".join(sorted(missing))
        except RPCError as exc:
            problem = exc.message
        if loop.time() > deadline:
            raise TemporalUnavailable(f"Temporal's search attributes are not ready after {timeout:.0f}s ({problem})")
        await asyncio.sleep(0.2)


class TemporalUnavailable(Exception):
    pass


def tls_config(settings: Settings) -> TLSConfig | bool:
    """The connection's TLS from the settings: mTLS (and/or a private CA, a server name) from the
    TEMPORAL_TLS_* files; with only TEMPORAL_API_KEY, TLS with the system's roots (Temporal Cloud); else none."""

    def read(path: Path | None) -> bytes | None:
        return path.read_bytes() if path is not None else None

    if settings.temporal_tls_cert or settings.temporal_tls_ca or settings.temporal_tls_server_name:
        return TLSConfig(
            server_root_ca_cert=read(settings.temporal_tls_ca),
            domain=settings.temporal_tls_server_name,
            client_cert=read(settings.temporal_tls_cert),
            client_private_key=read(settings.temporal_tls_key),
        )
    return settings.temporal_api_key is not None


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """The one way every process (worker, CLI, Slack app, MCP server, dev launcher) connects to Temporal."""
    tls = tls_config(settings)
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(settings.encryption_keys),
            runtime=runtime,
            tls=tls,
            api_key=settings.temporal_api_key,
        )
    except RuntimeError as exc:
        how = " over TLS (TEMPORAL_TLS_*, TEMPORAL_API_KEY)" if tls else ""
        hint = "check the certificates and that the server speaks TLS" if tls else "start it with `grantflow dev`"
        raise TemporalUnavailable(
            f"cannot reach Temporal at {settings.temporal_address}{how} ({exc}); {hint}"
        ) from None


@dataclass(frozen=True)
class RunState:
    """What the server says of a request's newest run, without asking a worker."""

    running: bool
    completed: bool  # ended with a result (the final status view), readable without a replay
    stranded: bool  # a workflow task waits on a worker that is gone (see `task_stranded`)


async def run_state(handle: WorkflowHandle[Any, Any]) -> RunState:
    """One `describe` of the newest run: whether it runs, ended with a result, or has a stranded task.

    A task no worker has finished for more than STRANDED_TASK sits on the sticky queue of a worker that died,
    or was handed to that worker's last poll. A query then makes another worker rebuild the run halfway into
    that task, and with temporalio 1.35.0 a decision arriving in the same task can run in an order its replay
    does not reproduce (CHANGELOG.md, Known problems): the doors do not query in that window, nor a run that
    has ended (a query there replays the whole history, and meets the same problem when the run went through
    such a task)."""
    raw = (await handle.describe()).raw_description
    status = raw.workflow_execution_info.status
    running = status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    completed = status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
    if not running or not raw.HasField("pending_workflow_task"):
        return RunState(running, completed, stranded=False)
    task = raw.pending_workflow_task
    # Handed to the dead worker's last poll, a task shows as started until it times out; not yet handed, as
    # scheduled. A live worker finishes a workflow task in milliseconds (the workflow runs no local activity).
    since = task.scheduled_time
    if task.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED:
        since = task.started_time
    return RunState(running, completed, stranded=datetime.now(UTC) - since.ToDatetime(tzinfo=UTC) > STRANDED_TASK)


async def task_stranded(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow has a task that no worker has finished for more than STRANDED_TASK (`run_state`)."""
    try:
        return (await run_state(handle)).stranded
    except RPCError:
        return False
