"""`grantflow mcp`: the MCP front door, so that an AI assistant can find, request and decide access for its user.

Who the caller is comes from the server's configuration, never from a tool argument (grantflow/mcp/auth.py):
over stdio the process runs for one person (`GRANTFLOW_MCP_USER`); over streamable HTTP every HTTP request
must carry `Authorization: Bearer TOKEN`, mapped to an email by `GRANTFLOW_MCP_TOKENS="token:email,..."`, or
it is answered 401 before the MCP layer sees it. Without tokens HTTP does not start unless
`--insecure-no-auth` (127.0.0.1 only, everyone acts as `GRANTFLOW_MCP_USER`, a warning in the log).
Every call goes through `GrantflowClient`, like the CLI; it signs each decision `via: mcp` when the process
holds GRANTFLOW_DECISION_KEYS. The user may approve or reject where the flow names them an approver (the
workflow refuses anyone else and self-approval); break-glass is not offered here (Slack and the CLI).
What the tools answer is in grantflow/mcp/views.py.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Annotated, Any

import structlog
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.types import ASGIApp

from grantflow import assist, catalog
from grantflow.client import GrantflowClient, Refused
from grantflow.domain.durations import format_duration
from grantflow.domain.models import StatusView
from grantflow.mcp.auth import LOOPBACK, TOKENS_ENV, USER_ENV, BearerAuth, identity_from, parse_tokens
from grantflow.mcp.views import request_view, suggestion_arguments, tool_errors
from grantflow.settings import Settings

log = structlog.get_logger("grantflow.mcp")

INSTRUCTIONS = """\
grantflow gives people temporary, approved access to databases, folders and other resources.
Typical use: call suggest_access with what the user is trying to do, show the suggestions, and after the
user picks one call request_access with that suggestion's `request_access_arguments` (add a justification
in the user's words when the flow requires one). Requests usually wait for a human approver;
check progress with request_status or my_requests. When the user is an approver of someone else's request,
approve_request or reject_request decides it for them, after they confirmed. You act as one fixed person
configured on this server, and cannot act for anyone else."""


class GrantflowMCP:
    """The tools, bound to a lazily connected GrantflowClient (so the server starts even while Temporal is
    still coming up, and says so in the tool result instead of failing the handshake)."""

    def __init__(
        self,
        settings: Settings | None = None,
        client: GrantflowClient | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self.settings = settings or Settings()
        self._client = client
        self._lock = asyncio.Lock()
        self.env = env if env is not None else os.environ

    async def client(self) -> GrantflowClient:
        async with self._lock:
            if self._client is None:
                self._client = await GrantflowClient.connect(self.settings, via="mcp")
            return self._client

    def who(self, ctx: Context | None) -> str:
        headers = ctx.headers if ctx is not None else None
        return identity_from(headers, self.env)

    async def _involved(self, c: GrantflowClient, person: str, request_id: str) -> StatusView:
        view = await c.status(request_id)
        cfg = c.config
        if person not in {view.requester, view.grantee, *view.approvers, *cfg.expand(cfg.admins)}:
            raise ToolError(
                f"request {view.request_id} is not yours: you are neither its requester, grantee nor an approver"
            )
        return view

    def build(self) -> MCPServer:
        server: MCPServer = MCPServer("grantflow", instructions=INSTRUCTIONS, version="0.1.0")
        read_only = ToolAnnotations(readOnlyHint=True, openWorldHint=False)

        @server.tool(annotations=read_only)
        async def suggest_access(
            goal: Annotated[
                str,
                Field(
                    description="What the user is trying to do, in their words, e.g. "
                    "'debug failed payments in the orders database for an hour'."
                ),
            ],
            ctx: Context,
        ) -> dict[str, Any]:
            """Suggest complete access requests for a goal described in plain language.

            Returns up to 5 suggestions, best first, each something the user is allowed to request:
            what (integration, resource type, resources, permission, or a bundle), for how long, through
            which access flow and approvers, with a one-line explanation. Read-only suggestions come before
            write access unless the goal asks to change something. Nothing is requested: to request one,
            pass its `request_access_arguments` to request_access."""
            with tool_errors():
                person = self.who(ctx)
                c = await self.client()
                favorites = await asyncio.to_thread(c.store.favorites, person)
                found = assist.suggest(c.config, person, goal, favorites=favorites)
                return {
                    "as": person,
                    "suggestions": [
                        {
                            "summary": s.explanation,
                            "what": s.label(),
                            "items": [i.label() for i in s.items],
                            "duration": format_duration(s.duration_seconds),
                            "flow": s.flow_name,
                            "approvers": s.approvers,
                            "automatic_approval": s.approvals_required == 0,
                            "justification_required": s.justification_required,
                            "score": s.score,
                            "request_access_arguments": suggestion_arguments(s),
                        }
                        for s in found
                    ],
                    "hint": "" if found else "Nothing matched: list_requestable shows everything you may request.",
                }

        @server.tool(annotations=read_only)
        async def list_requestable(
            ctx: Context,
            query: Annotated[
                str | None,
                Field(description="Optional words to filter by, e.g. 'orders' or 'finance'. Omit to list everything."),
            ] = None,
        ) -> dict[str, Any]:
            """List what the user may request: for each access flow, the integrations, resource types,
            resources ('*' means any existing one), permissions and bundles, with the approvers and the
            default and maximum durations."""
            with tool_errors():
                person = self.who(ctx)
                c = await self.client()
                entries = catalog.requestable(c.config, person, query)
                listed = [e.model_dump(mode="json", exclude_defaults=True) for e in entries]
                return {"as": person, "requestable": listed}

        @server.tool(annotations=ToolAnnotations(destructiveHint=False, idempotentHint=False, openWorldHint=False))
        async def request_access(
            ctx: Context,
            integration: Annotated[
                str | None, Field(description="Integration id, e.g. 'demo-postgres'. Not with bundle.")
            ] = None,
            resource_type: Annotated[str | None, Field(description="e.g. 'database', 'table', 'folder'.")] = None,
            resources: Annotated[
                list[str] | None,
                Field(
                    description="Resource names, e.g. ['orders']. With a bundle: optionally a subset of its resources."
                ),
            ] = None,
            permission: Annotated[
                str | None, Field(description="e.g. 'read' or 'write'. Prefer the least that does the job.")
            ] = None,
            bundle: Annotated[
                str | None, Field(description="Bundle id, instead of integration/resource_type/permission.")
            ] = None,
            duration: Annotated[
                str | None, Field(description="e.g. '30m', '1h', '1h30m'. Default: the flow's default.")
            ] = None,
            justification: Annotated[
                str, Field(description="Why the user needs it, in their words. Required by most flows.")
            ] = "",
            on_behalf_of: Annotated[
                str | None,
                Field(description="Email of another person to receive the access, only if the user asked for that."),
            ] = None,
            idempotency_key: Annotated[
                str | None, Field(description="Same key, same request: use it to retry safely.")
            ] = None,
            start_at: Annotated[
                str | None,
                Field(
                    description="Only if the user wants access later: an ISO time (UTC unless it says otherwise) "
                    "or '+2h'. Approval may come before it; the duration counts from the start."
                ),
            ] = None,
        ) -> dict[str, Any]:
            """Submit an access request for the user (the same fields as `grantflow request`).

            Returns the request id and its status, usually PENDING_APPROVAL: a human approver decides in
            Slack, never this tool. A request the policy does not allow is refused with the reason and
            nothing is started. Confirm with the user before calling this."""
            with tool_errors():
                person = self.who(ctx)
                c = await self.client()
                try:
                    sub = await c.request(
                        requester=person,
                        grantee=on_behalf_of or None,
                        integration=integration,
                        resource_type=resource_type,
                        resources=resources or [],
                        permission=permission,
                        bundle=bundle,
                        duration=duration,
                        justification=justification,
                        start_at=start_at,
                        source="mcp",
                        idempotency_key=idempotency_key,
                    )
                except Refused as exc:
                    raise ToolError(f"refused: {exc}") from None
                view = await c.decided(sub.request_id)
                out = request_view(view)
                out["workflow_id"] = sub.workflow_id
                out["already_existed"] = sub.existing
                if sub.notes:
                    out["unchecked"] = list(sub.notes)
                return out

        @server.tool(annotations=read_only)
        async def my_requests(ctx: Context) -> dict[str, Any]:
            """The user's requests: everything active plus everything from the last 7 days, newest first."""
            with tool_errors():
                person = self.who(ctx)
                c = await self.client()
                return {"as": person, "requests": [request_view(v) for v in await c.recent(person)]}

        @server.tool(annotations=read_only)
        async def request_status(
            request_id: Annotated[str, Field(description="The request id returned by request_access.")],
            ctx: Context,
        ) -> dict[str, Any]:
            """The current state of one of the user's requests: status, approvals, expiry, extensions."""
            with tool_errors():
                person = self.who(ctx)
                c = await self.client()
                return request_view(await self._involved(c, person, request_id))

        @server.tool(annotations=ToolAnnotations(destructiveHint=False, idempotentHint=False, openWorldHint=False))
        async def extend_access(
            request_id: Annotated[str, Field(description="The id of an ACTIVE request of the user.")],
            ctx: Context,
        ) -> dict[str, Any]:
            """Extend active access by the flow's extension duration (if the flow allows and the limit is not
            reached). Returns the new expiry."""
            with tool_errors():
                person = self.who(ctx)
                c = await self.client()
                return request_view(await c.extend(request_id, person))

        @server.tool(annotations=ToolAnnotations(destructiveHint=True, idempotentHint=True, openWorldHint=False))
        async def revoke_access(
            request_id: Annotated[str, Field(description="The id of the request to end.")],
            ctx: Context,
            reason: Annotated[str, Field(description="Optional reason, kept in the audit trail.")] = "",
        ) -> dict[str, Any]:
            """End access now, or withdraw a request still waiting for approval. Use when the user is done."""
            with tool_errors():
                person = self.who(ctx)
                c = await self.client()
                return request_view(await c.revoke(request_id, person, reason))

        decides = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)

        @server.tool(annotations=decides)
        async def approve_request(
            request_id: Annotated[str, Field(description="The id of a request waiting for the user's approval.")],
            ctx: Context,
            comment: Annotated[str, Field(description="Optional comment, kept in the audit trail.")] = "",
        ) -> dict[str, Any]:
            """Approve someone else's access request as the user, who must be one of its flow's approvers.

            The user's approval counts towards the flow's quorum; once it is met, access is granted at once (or at
            the requested start). Confirm with the user before calling this, naming the requester and what they
            get (request_status shows it). Nobody approves their own request (as requester or grantee), and a
            person who is not an approver of the flow is refused with the reason. Break-glass (an admin
            approving alone in an emergency) is not available here: it stays in Slack and the CLI."""
            with tool_errors():
                person = self.who(ctx)
                c = await self.client()
                try:
                    return request_view(await c.approve(request_id, person, comment))
                except Refused as exc:
                    raise ToolError(f"refused: {exc}") from None

        @server.tool(annotations=decides)
        async def reject_request(
            request_id: Annotated[str, Field(description="The id of a request waiting for the user's approval.")],
            ctx: Context,
            reason: Annotated[str, Field(description="Why, in the user's words; the requester sees it.")] = "",
        ) -> dict[str, Any]:
            """Reject someone else's access request as the user, who must be one of its flow's approvers: the
            request ends REJECTED and nothing is granted. Confirm with the user before calling this. A person
            who may not decide the request is refused with the reason."""
            with tool_errors():
                person = self.who(ctx)
                c = await self.client()
                try:
                    return request_view(await c.reject(request_id, person, reason))
                except Refused as exc:
                    raise ToolError(f"refused: {exc}") from None

        return server


class HttpRefused(Exception):
    """`grantflow mcp --http` would serve without authentication: the message says what to set."""


def http_app(app: GrantflowMCP, host: str, insecure_no_auth: bool) -> tuple[ASGIApp, str]:
    """The streamable HTTP app behind bearer authentication and the address to bind, or HttpRefused."""
    tokens = parse_tokens(app.env.get(TOKENS_ENV))
    if insecure_no_auth:
        if host not in LOOPBACK:
            raise HttpRefused(f"--insecure-no-auth serves on 127.0.0.1 only, not on {host}")
        host = "127.0.0.1"
    elif not tokens:
        raise HttpRefused(
            f"set {TOKENS_ENV} (token:email,...) to serve MCP over HTTP, or pass --insecure-no-auth to serve it "
            "unauthenticated on 127.0.0.1"
        )
    starlette = app.build().streamable_http_app(host=host)
    if insecure_no_auth:
        log.warning(
            "mcp over http WITHOUT authentication: every local process acts as the configured user",
            host=host,
            user=app.env.get(USER_ENV, ""),
        )
        return starlette, host
    return BearerAuth(starlette, tokens), host


def run(http_port: int | None = None, host: str = "127.0.0.1", insecure_no_auth: bool = False) -> None:
    """Serve over stdio, or streamable HTTP at http://HOST:PORT/mcp (authenticated: see the module doc)."""
    app = GrantflowMCP()
    if http_port is None:
        app.build().run()
        return
    import uvicorn

    from grantflow.observability.logs import configure_logging

    configure_logging()
    asgi, bind = http_app(app, host, insecure_no_auth)  # HttpRefused before anything is served
    uvicorn.run(asgi, host=bind, port=http_port, log_level="warning")
