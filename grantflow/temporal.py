"""Connecting to Temporal the same way everywhere (client, worker, tests): one data converter, one place."""

from __future__ import annotations

import os

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from grantflow.domain.search_attributes import INDEXED_VALUE_TYPES, SEARCH_ATTRIBUTES
from grantflow.settings import Settings

__all__ = ["SEARCH_ATTRIBUTES", "TemporalUnavailable", "connect", "data_converter", "register_search_attributes"]


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


class TemporalUnavailable(Exception):
    pass


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(settings.encryption_keys),
            runtime=runtime,
        )
    except RuntimeError as exc:
        raise TemporalUnavailable(
            f"cannot reach Temporal at {settings.temporal_address} ({exc}); start it with `grantflow dev`"
        ) from None
