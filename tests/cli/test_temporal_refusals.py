"""What a person sees when Temporal refuses a call, and how `grantflow dev` avoids the refusal it caused itself.

- Any call the server refuses (an RPC error the facade does not turn into a grantflow error) is one line on
  stderr and exit 1 (`grantflow: error: Temporal refused the call (STATUS): <the server's words>`), never a
  traceback with an empty stdout.
- `temporal server start-dev --search-attribute` registers the search attributes only after its port opens;
  `grantflow dev` waits until the namespace lists them (`wait_for_search_attributes`) before it says it is
  running, so the first request is not refused for an unknown search attribute.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from grantflow.cli import common
from grantflow.cli.common import CliError
from grantflow.dev.launcher import DevServer
from grantflow.temporal import (
    SEARCH_ATTRIBUTES,
    TemporalUnavailable,
    register_search_attributes,
    wait_for_search_attributes,
)


def test_a_call_temporal_refuses_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    async def connect(*_: Any, **__: Any) -> object:
        return object()

    async def refused(_: Any) -> None:
        raise RPCError("Namespace default is not found.", RPCStatusCode.NOT_FOUND, b"")

    monkeypatch.setattr(common.GrantflowClient, "connect", connect)
    with pytest.raises(CliError) as caught:
        common.run(refused)
    assert caught.value.code == 1
    assert str(caught.value) == "Temporal refused the call (NOT_FOUND): Namespace default is not found."


async def test_wait_for_search_attributes_names_what_is_missing_then_returns(dev_server: DevServer) -> None:
    """A fresh namespace has none of the contract's search attributes: waiting times out naming them; once they
    are registered, waiting returns."""
    namespace = f"sa-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(dev_server.address)
    retention = Duration()
    retention.FromTimedelta(timedelta(days=1))
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=retention)
    )
    scoped = await Client.connect(dev_server.address, namespace=namespace)
    for _ in range(150):  # until the new namespace answers (the server's namespace cache refreshes)
        try:
            await scoped.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
            break
        except RPCError:
            await asyncio.sleep(0.2)
    with pytest.raises(TemporalUnavailable) as caught:
        await wait_for_search_attributes(scoped, timeout=1)
    text = str(caught.value)
    assert "not ready after 1s (not registered: " in text, text
    assert all(name in text for name in SEARCH_ATTRIBUTES), text
    await register_search_attributes(scoped)
    await wait_for_search_attributes(scoped, timeout=30)


async def test_the_dev_servers_search_attributes_are_there(dev_server: DevServer) -> None:
    await wait_for_search_attributes(await Client.connect(dev_server.address), timeout=30)
