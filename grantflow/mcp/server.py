"""`grantflow mcp`: the MCP front door, so that an AI assistant can find and request access for its user.

Who the caller is comes from the server's configuration, never from a tool argument: over stdio the
process runs for one person (`GRANTFLOW_MCP_USER`); over streamable HTTP every HTTP request must carry
`Authorization: Bearer TOKEN`, mapped to an email by `GRANTFLOW_MCP_TOKENS="token:email,..."`, or it is
answered 401 before the MCP layer sees it. Without tokens HTTP does not start unless `--insecure-no-auth`
(127.0.0.1 only, everyone acts as `GRANTFLOW_MCP_USER`, a warning in the log). There is deliberately no approve
or reject tool: a human approves in Slack. Every call goes through `GrantflowClient`, like the CLI.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any

import structlog
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.types import ASGIApp, Receive, Scope, Send

from grantflow import assist, catalog
from grantflow.client import GrantflowClient, GrantflowError, Refused
from grantflow.domain.config import ConfigError
from grantflow.domain.durations import format_duration
from grantflow.domain.emails import BadEmail, check_email
from grantflow.domain.models import StatusView
from grantflow.settings import Settings
from grantflow.temporal import TemporalUnavailable

log = structlog.get_logger("grantflow.mcp")

USER_ENV = "GRANTFLOW_MCP_USER"
TOKENS_ENV = "GRANTFLOW_MCP_TOKENS"

INSTRUCTIONS = """\
grantflow gives people temporary, approved access to databases, folders and other resources.
Typical use: call suggest_access with what the user is trying to do, show the suggestions, and after the
user picks one call request_access with that suggestion's `request_access_arguments` (add a justification
in the user's words when the flow requires one). Requests usually wait for a human approver in Slack;
check progress with request_status or my_requests. You act as one fixed person configured on this
server; you cannot approve requests, and cannot act for anyone else."""


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_tokens(raw: str | None) -> dict[str, str]:
    """`token:email,token2:email2` → {token: email}. The email is after the last colon; an entry whose email
    fails the email rule is left out (and so authenticates nobody)."""
    out: dict[str, str] = {}
    for part in (raw or "").split(","):
        token, sep, email = part.strip().rpartition(":")
        if not (sep and token.strip()):
            continue
        try:
            out[token.strip()] = check_email(email)
        except BadEmail:
            continue
    return out


def bearer_identity(authorization: str | None, tokens: Mapping[str, str]) -> str | None:
    """The email of the token in an `Authorization: Bearer TOKEN` value, or None. Every configured token is
    compared in constant time, so neither a match nor its position shows in the answer's timing."""
    scheme, _, presented = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    given = presented.strip().encode()
    found: str | None = None
    for token, email in tokens.items():
        if hmac.compare_digest(given, token.encode()) and given:
            found = email
    return found


def identity_from(headers: Mapping[str, str] | None, env: Mapping[str, str]) -> str:
    """The caller's email for one tool call, or a ToolError saying what to configure."""
    tokens = parse_tokens(env.get(TOKENS_ENV))
    if headers is not None and tokens:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        email = bearer_identity(auth, tokens)
        if not email:
            raise ToolError(f"not authenticated: send `Authorization: Bearer <token>` with a token from {TOKENS_ENV}")
        return email
    try:
        return check_email(env.get(USER_ENV, ""))
    except BadEmail as exc:
        raise ToolError(
            f"this grantflow MCP server has no identity: set {USER_ENV} to your email (or {TOKENS_ENV} for HTTP): {exc}"
        ) from None


class BearerAuth:
    """ASGI middleware: every HTTP request needs a valid bearer token, else 401 and the MCP app never runs."""

    def __init__(self, app: ASGIApp, tokens: Mapping[str, str]):
        self.app = app
        self.tokens = dict(tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        auth = next((v.decode("latin-1") for k, v in headers if k.lower() == b"authorization"), "")
        if bearer_identity(auth, self.tokens) is None:
            body = json.dumps(
                {"error": "unauthorized", "error_description": f"send Authorization: Bearer <token> ({TOKENS_ENV})"}
            ).encode()
            start_headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="grantflow"'),
            ]
            await send({"type": "http.response.start", "status": 401, "headers": start_headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _view(v: StatusView) -> dict[str, Any]:
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
    }


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
                            "request_access_arguments": _arguments(s),
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
                out = _view(view)
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
                return {"as": person, "requests": [_view(v) for v in await c.recent(person)]}

        @server.tool(annotations=read_only)
        async def request_status(
            request_id: Annotated[str, Field(description="The request id returned by request_access.")],
            ctx: Context,
        ) -> dict[str, Any]:
            """The current state of one of the user's requests: status, approvals, expiry, extensions."""
            with tool_errors():
                person = self.who(ctx)
                c = await self.client()
                return _view(await self._involved(c, person, request_id))

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
                return _view(await c.extend(request_id, person))

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
                return _view(await c.revoke(request_id, person, reason))

        return server


def _arguments(s: assist.Suggestion) -> dict[str, Any]:
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
