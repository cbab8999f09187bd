"""What the MCP tools answer: a request's view, a suggestion's arguments for request_access, and client
errors turned into tool errors the model can read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from grantflow import assist
from grantflow.client import GrantflowError
from grantflow.domain.config import ConfigError
from grantflow.domain.durations import format_duration
from grantflow.domain.models import StatusView
from grantflow.temporal import TemporalUnavailable


def request_view(v: StatusView) -> dict[str, Any]:
    """A request as the tools answer it (what the model needs; `refused`: the last decisions the workflow
    refused, e.g. an approval sent straight through Temporal under `decisions: enforce`)."""
    return {
        "request_id": v.request_id,
        "status": v.status.value,
        "status_reason": v.status_reason,
        "requester": v.requester,
        "grantee": v.grantee,
        "grants": [g.label() for g in v.grants],
        "bundle": v.bundle,
        "flow": v.flow_name or v.flow_id,
        "approvers": v.approvers,
        "approvals": [a.approver for a in v.approvals],
        "approvals_required": v.approvals_required,
        "duration": format_duration(v.duration_seconds),
        "start_at": v.start_at.isoformat() if v.start_at else None,
        "escalated_to": v.escalated_to,
        "escalates_at": v.escalates_at.isoformat() if v.escalates_at else None,
        "approval_deadline": v.approval_deadline.isoformat() if v.approval_deadline else None,
        "expires_at": v.expires_at.isoformat() if v.expires_at else None,
        "extensions_used": v.extensions_used,
        "max_extensions": v.max_extensions,
        "can_extend": v.extension_enabled and v.extensions_used < v.max_extensions,
        "refused": [
            {"action": r.action, "actor": r.actor, "reason": r.reason, "at": r.at.isoformat()} for r in v.refused
        ],
    }


def suggestion_arguments(s: assist.Suggestion) -> dict[str, Any]:
    args: dict[str, Any] = {"duration": format_duration(s.duration_seconds), "justification": s.justification}
    if s.bundle:
        args["bundle"] = s.bundle
    else:
        args.update(
            integration=s.integration, resource_type=s.resource_type, resources=s.resources, permission=s.permission
        )
    return args


def _cli_words(message: str) -> str:
    """build_spec speaks in CLI flags; a model calls fields."""
    for flag, name in (
        ("--integration", "integration"),
        ("--resource-type", "resource_type"),
        ("--resource", "resources"),
        ("--permission", "permission"),
        ("--bundle", "bundle"),
        ("--duration", "duration"),
    ):
        message = message.replace(flag, name)
    return message


@contextmanager
def tool_errors() -> Iterator[None]:
    """Client errors become tool errors the model can read, instead of an opaque crash."""
    try:
        yield
    except assist.AssistError as exc:
        raise ToolError(str(exc)) from None
    except GrantflowError as exc:
        raise ToolError(_cli_words(str(exc))) from None
    except TemporalUnavailable as exc:
        raise ToolError(str(exc)) from None
    except ConfigError as exc:
        raise ToolError(str(exc).splitlines()[0] + " (run `grantflow config check`)") from None
