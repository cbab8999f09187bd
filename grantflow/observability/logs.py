"""Structured logs: JSON lines when not on a terminal (or GRANTFLOW_LOG_FORMAT=json), readable otherwise.

Every line logged while an activity runs carries its `request_id` (from the workflow id
`access-request-<id>`), `workflow_id` and `activity`, so one request's story can be grepped out of a busy
worker. Standard-library records (the Temporal SDK's own warnings, aiohttp) go through the same renderer.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from grantflow.domain.ids import request_id_from_workflow_id


def temporal_context(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Add the running activity's request id, workflow id and name to a log event."""
    from temporalio import activity

    if not activity.in_activity():
        return event
    info = activity.info()
    workflow_id = info.workflow_id or ""
    request_id = request_id_from_workflow_id(workflow_id)
    if request_id is not None:
        event.setdefault("request_id", request_id)
    event.setdefault("workflow_id", workflow_id)
    event.setdefault("activity", info.activity_type)
    if info.attempt > 1:
        event.setdefault("attempt", info.attempt)
    return event


def configure_logging(level: str | None = None) -> None:
    level_name = (level or os.environ.get("GRANTFLOW_LOG_LEVEL", "INFO")).upper()
    log_level = getattr(logging, level_name, logging.INFO)
    fmt = os.environ.get("GRANTFLOW_LOG_FORMAT") or ("console" if sys.stderr.isatty() else "json")
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        temporal_context,
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer,
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder()],
        )
    )
    logging.basicConfig(level=log_level, handlers=[handler], force=True)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(log_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
